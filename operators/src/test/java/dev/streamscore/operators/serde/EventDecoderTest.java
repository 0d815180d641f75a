package dev.streamscore.operators.serde;

import static dev.streamscore.operators.serde.HostileInputs.CARD_FRAUD;
import static dev.streamscore.operators.serde.HostileInputs.CODEC;
import static dev.streamscore.operators.serde.HostileInputs.HEADER_BYTES;
import static dev.streamscore.operators.serde.HostileInputs.PAYOUTS;
import static dev.streamscore.operators.serde.HostileInputs.SKEW_MILLIS;
import static dev.streamscore.operators.serde.HostileInputs.transaction;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.pipeline.events.AvroEvents;
import dev.streamscore.schemas.Channel;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.Transaction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Named cases of {@link EventDecoder}: what passes, and each way a record becomes a dead letter.
 */
class EventDecoderTest {

    private static final Instant NOW = Instant.parse("2026-12-01T00:00:00Z");
    private static final long NOW_MILLIS = NOW.toEpochMilli();

    private final EventDecoder cards = HostileInputs.decoder(CARD_FRAUD);
    private final EventDecoder payouts = HostileInputs.decoder(PAYOUTS);

    /** The decoder's outcome: the event, or its one dead letter. */
    private record Outcome(PipelineEvent event, DeadLetter letter) {}

    private static Outcome decode(EventDecoder decoder, byte[] bytes) {
        List<DeadLetter> letters = new ArrayList<>();
        PipelineEvent event =
                decoder.decode(
                        new KafkaRecord(bytes, "in", 2, 40, 0),
                        NOW_MILLIS,
                        (letter, ignored) -> letters.add(letter),
                        null);
        assertThat(letters).hasSize(event == null ? 1 : 0);
        return new Outcome(event, event == null ? letters.get(0) : null);
    }

    private Outcome decode(Transaction txn) {
        return decode(cards, CODEC.encode(txn));
    }

    private static Transaction txn(Consumer<Transaction> change) {
        Transaction t = transaction("tx-1", NOW.minusSeconds(60));
        change.accept(t);
        return t;
    }

    private static DeadLetter rejected(Outcome o, Stage stage) {
        assertThat(o.event()).isNull();
        DeadLetter letter = o.letter();
        assertThat(letter.getStage()).as(letter.getErrorMessage()).isEqualTo(stage);
        assertThat(letter.getSourceTopic()).isEqualTo("in");
        assertThat(letter.getSourcePartition()).isEqualTo(2);
        assertThat(letter.getSourceOffset()).isEqualTo(40);
        assertThat(letter.getErrorMessage()).isNotBlank();
        return letter;
    }

    @Test
    void aValidCardTransactionIsAnEventWhoseBodyDecodesBack() {
        Transaction t =
                txn(
                        x -> {
                            x.setCardId("card-7");
                            x.setChannel(Channel.ECOM);
                            x.setDeviceId("dev-1");
                        });
        byte[] bytes = CODEC.encode(t);

        PipelineEvent e = decode(cards, bytes).event();

        assertThat(e).isNotNull();
        assertThat(e.key).isEqualTo("card-7");
        assertThat(e.id).isEqualTo("tx-1");
        assertThat(e.time).isEqualTo(NOW_MILLIS - 60_000);
        assertThat(e.raw).isEqualTo(bytes);
        assertThat(e.sourceTopic).isEqualTo("in");
        assertThat(e.sourcePartition).isEqualTo(2);
        assertThat(e.sourceOffset).isEqualTo(40);
        assertThat(e.features).isNull();
        // Written with the reader schema: the body is the record's own bytes, not encoded again.
        assertThat(e.body).isEqualTo(Arrays.copyOfRange(bytes, HEADER_BYTES, bytes.length));
        GenericRecord body = new AvroEvents(CARD_FRAUD.inputSchema()).fromBinary(e.body);
        assertThat(body.get("transaction_id").toString()).isEqualTo("tx-1");
        assertThat(body.get("card_id").toString()).isEqualTo("card-7");
        assertThat(body.get("merchant_id").toString()).isEqualTo("m-1");
        assertThat(body.get("merchant_category").toString()).isEqualTo("5411");
        assertThat(body.get("amount_minor")).isEqualTo(999L);
        assertThat(body.get("currency").toString()).isEqualTo("USD");
        assertThat(body.get("country").toString()).isEqualTo("US");
        assertThat(body.get("channel").toString()).isEqualTo("ECOM");
        assertThat(body.get("card_present")).isEqualTo(true);
        assertThat(body.get("event_time")).isEqualTo(NOW_MILLIS - 60_000);
        assertThat(body.get("device_id").toString()).isEqualTo("dev-1");
    }

    @Test
    void aValidJsonPayoutIsAnEventWhoseBodyDecodesBack() {
        long at = NOW_MILLIS - 3_600_000;
        byte[] bytes =
                ("{\"payout_id\": \"po-1\", \"merchant_id\": \"mer-9\", \"amount_minor\": 125000,"
                                + " \"currency\": \"EUR\", \"bank_account_id\": \"ba-1\","
                                + " \"country\": \"DE\", \"method\": \"INSTANT\","
                                + " \"requested_at\": "
                                + at
                                + ", \"unknown\": [1, {\"x\": null}]}")
                        .getBytes(StandardCharsets.UTF_8);

        PipelineEvent e = decode(payouts, bytes).event();

        assertThat(e).isNotNull();
        assertThat(e.key).isEqualTo("mer-9");
        assertThat(e.id).isEqualTo("po-1");
        assertThat(e.time).isEqualTo(at);
        assertThat(e.raw).isEqualTo(bytes);
        GenericRecord body = new AvroEvents(PAYOUTS.inputSchema()).fromBinary(e.body);
        assertThat(body.get("payout_id").toString()).isEqualTo("po-1");
        assertThat(body.get("merchant_id").toString()).isEqualTo("mer-9");
        assertThat(body.get("amount_minor")).isEqualTo(125_000L);
        assertThat(body.get("currency").toString()).isEqualTo("EUR");
        assertThat(body.get("bank_account_id").toString()).isEqualTo("ba-1");
        assertThat(body.get("country").toString()).isEqualTo("DE");
        assertThat(body.get("method").toString()).isEqualTo("INSTANT");
        assertThat(body.get("requested_at")).isEqualTo(at);
        assertThat(body.get("note")).as("the schema's default").isNull();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(
            delimiter = '|',
            value = {
                "'{\"payout_id\": null}'|payout_id: expected a string, found null",
                "'{\"merchant_id\": \"m\"}'|payout_id: missing, and the schema gives it no default",
                "'{\"amount_minor\": \"12\"}'|amount_minor: expected a whole number of 64 bits",
                "'{\"amount_minor\": 1.5}'|amount_minor: expected a whole number of 64 bits",
                "'{\"amount_minor\": 123456789012345678901234567890}'|amount_minor: expected a"
                        + " whole number of 64 bits",
                "'{\"method\": \"ach\"}'|method: expected one of [ACH, WIRE, INSTANT]",
                "'{\"requested_at\": 1.7e12}'|requested_at: expected a whole number of"
                        + " milliseconds",
                "'{\"note\": 5}'|note: expected a string",
                "'[1, 2]'|expected a JSON object, found array",
                "'{\"payout_id\": '|not JSON",
            })
    void aJsonPayoutThatDoesNotReadIsADecodeDeadLetterNamingTheField(
            String change, String message) {
        String valid =
                "{\"payout_id\": \"po-1\", \"merchant_id\": \"mer-9\", \"amount_minor\": 1,"
                        + " \"currency\": \"EUR\", \"bank_account_id\": \"ba-1\", \"country\":"
                        + " \"DE\", \"method\": \"ACH\", \"requested_at\": "
                        + NOW_MILLIS
                        + ", \"note\": null}";
        String json;
        if (change.startsWith("{\"merchant_id\"")) { // payout_id left out
            json = valid.replace("\"payout_id\": \"po-1\", ", "");
        } else if (change.startsWith("{") && change.endsWith("}")) {
            String field = change.substring(2, change.indexOf('"', 2));
            String value = change.substring(change.indexOf(':') + 2, change.length() - 1);
            json = valid.replaceFirst("\"" + field + "\": [^,}]*", "\"" + field + "\": " + value);
        } else {
            json = change;
        }

        DeadLetter letter =
                rejected(decode(payouts, json.getBytes(StandardCharsets.UTF_8)), Stage.DECODE);

        assertThat(letter.getErrorMessage()).contains(message);
    }

    /**
     * JSON can escape half a surrogate pair, which has no UTF-8: the body would hold '?' instead,
     * so a key or id with one would not be the key or id its body (and its output) says. The JSON
     * reader refuses it in any string field (DECODE); the decoder's own check stays behind it.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource(
            delimiter = ';',
            value = {
                "merchant_id;a\\ud800;merchant_id: expected text, found an unpaired"
                        + " UTF-16 surrogate at character 1",
                "merchant_id;\\udc00\\ud800;merchant_id: expected text, found an"
                        + " unpaired UTF-16 surrogate at character 0",
                "payout_id;po-\\ud83d;payout_id: expected text, found an unpaired"
                        + " UTF-16 surrogate at character 3",
                "payout_id;po-\\ud83d\\ude00;",
                "merchant_id;\\u00e9\\ud83d\\ude00;",
            })
    void aStringWithAnUnpairedSurrogateIsADecodeDeadLetter(
            String field, String escaped, String message) {
        String json =
                "{\"payout_id\": \"po-1\", \"merchant_id\": \"mer-9\", \"amount_minor\": 1,"
                        + " \"currency\": \"EUR\", \"bank_account_id\": \"ba-1\", \"country\":"
                        + " \"DE\", \"method\": \"ACH\", \"requested_at\": "
                        + NOW_MILLIS
                        + "}";
        json = json.replaceFirst("\"" + field + "\": \"[^\"]*\"", "\"" + field + "\": \"X\"");
        byte[] bytes =
                json.replace("\"X\"", "\"" + escaped + "\"").getBytes(StandardCharsets.UTF_8);

        Outcome o = decode(payouts, bytes);

        if (message == null) { // a whole pair: valid, and the body says the same
            assertThat(o.event()).isNotNull();
            GenericRecord body = new AvroEvents(PAYOUTS.inputSchema()).fromBinary(o.event().body);
            assertThat(body.get("merchant_id").toString()).isEqualTo(o.event().key);
            assertThat(body.get("payout_id").toString()).isEqualTo(o.event().id);
        } else {
            assertThat(rejected(o, Stage.DECODE).getErrorMessage()).isEqualTo(message);
        }
    }

    @Test
    void aPayoutOfAZeroAmountFailsItsCheck() {
        byte[] bytes =
                ("{\"payout_id\": \"po-1\", \"merchant_id\": \"mer-9\", \"amount_minor\": 0,"
                                + " \"currency\": \"EUR\", \"bank_account_id\": \"ba-1\","
                                + " \"country\": \"DE\", \"method\": \"ACH\", \"requested_at\": "
                                + NOW_MILLIS
                                + "}")
                        .getBytes(StandardCharsets.UTF_8);

        DeadLetter letter = rejected(decode(payouts, bytes), Stage.VALIDATE);

        assertThat(letter.getErrorMessage()).isEqualTo("check failed: amount_minor > 0");
        assertThat(letter.getErrorClass()).isEqualTo("dev.streamscore.CheckFailed");
        assertThat(letter.getTransactionId()).isEqualTo("po-1");
    }

    @Test
    void aRecordOverMaxRecordBytesIsADecodeDeadLetterWithoutBeingRead() {
        byte[] bytes = CODEC.encode(txn(t -> t.setDeviceId("d".repeat(60))));
        EventDecoder exact = HostileInputs.decoder(CARD_FRAUD, bytes.length);
        EventDecoder under = HostileInputs.decoder(CARD_FRAUD, bytes.length - 1);

        assertThat(decode(exact, bytes).event()).isNotNull();
        DeadLetter letter = rejected(decode(under, bytes), Stage.DECODE);

        assertThat(letter.getErrorClass()).isEqualTo("dev.streamscore.RecordTooLarge");
        assertThat(letter.getErrorMessage())
                .isEqualTo(
                        "record of "
                                + bytes.length
                                + " bytes is over max-record-bytes ("
                                + (bytes.length - 1)
                                + "); not decoded");
        assertThat(letter.getPayloadSize()).isEqualTo(bytes.length);
        assertThat(letter.getTransactionId()).as("not read, so not known").isNull();
    }

    @Test
    void settingsOutsideTheirRangeAreRefused() {
        assertThatThrownBy(
                        () -> new EventDecoder(CARD_FRAUD.definition(), 0, Duration.ofMinutes(5)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("max-record-bytes must be 1..");
        assertThatThrownBy(
                        () ->
                                new EventDecoder(
                                        CARD_FRAUD.definition(),
                                        EventDecoder.MAX_RECORD_BYTES_LIMIT + 1,
                                        Duration.ofMinutes(5)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("max-record-bytes must be 1..");
        assertThatThrownBy(
                        () ->
                                new EventDecoder(
                                        CARD_FRAUD.definition(), 1024, Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("max-clock-skew must be zero or positive, got PT-0.001S");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(
            delimiter = ';',
            value = {
                "merchant_id empty;size(merchant_id) > 0 && size(merchant_id) <= 128",
                "merchant_id of 129;size(merchant_id) > 0 && size(merchant_id) <= 128",
                "merchant_category of 3;merchant_category.matches(\"^[0-9]{4}$\")",
                "merchant_category with a line end;merchant_category.matches(\"^[0-9]{4}$\")",
                "amount_minor 0;amount_minor > 0 && amount_minor <= 1000000000000",
                "amount_minor negative;amount_minor > 0 && amount_minor <= 1000000000000",
                "amount_minor too large;amount_minor > 0 && amount_minor <= 1000000000000",
                "currency lower case;currency.matches(\"^[A-Z]{3}$\")",
                "currency with a line end;currency.matches(\"^[A-Z]{3}$\")",
                "country of 3;country.matches(\"^[A-Z]{2}$\")",
                "device_id of 257;device_id == null || size(device_id) <= 256",
            })
    void eachCardFraudCheckThatFailsIsNamed(String change, String check) {
        Transaction t =
                txn(
                        x -> {
                            switch (change) {
                                case "merchant_id empty" -> x.setMerchantId("");
                                case "merchant_id of 129" -> x.setMerchantId("m".repeat(129));
                                case "merchant_category of 3" -> x.setMerchantCategory("541");
                                case "merchant_category with a line end" ->
                                        x.setMerchantCategory("5411\n");
                                case "amount_minor 0" -> x.setAmountMinor(0);
                                case "amount_minor negative" -> x.setAmountMinor(-5);
                                case "amount_minor too large" ->
                                        x.setAmountMinor(1_000_000_000_001L);
                                case "currency lower case" -> x.setCurrency("usd");
                                case "currency with a line end" -> x.setCurrency("USD\n");
                                case "country of 3" -> x.setCountry("USA");
                                case "device_id of 257" -> x.setDeviceId("d".repeat(257));
                                default -> throw new IllegalArgumentException(change);
                            }
                        });

        DeadLetter letter = rejected(decode(t), Stage.VALIDATE);

        assertThat(letter.getErrorMessage()).isEqualTo("check failed: " + check);
        assertThat(letter.getErrorClass()).isEqualTo("dev.streamscore.CheckFailed");
        assertThat(letter.getTransactionId()).isEqualTo("tx-1");
    }

    @Test
    void theChecksLimitsThemselvesPass() {
        assertThat(
                        decode(
                                        txn(
                                                x -> {
                                                    x.setMerchantId("m".repeat(128));
                                                    x.setAmountMinor(1_000_000_000_000L);
                                                    x.setDeviceId("d".repeat(256));
                                                }))
                                .event())
                .isNotNull();
        assertThat(decode(txn(x -> x.setAmountMinor(1))).event()).isNotNull();
    }

    @ParameterizedTest(name = "{0} of {1} characters")
    @CsvSource({
        "transaction_id, 0, the id",
        "transaction_id, -1, the id",
        "transaction_id, 129, the id",
        "transaction_id, 65536, the id",
        "card_id, 0, the key",
        "card_id, -1, the key",
        "card_id, 129, the key",
    })
    void anEmptyBlankOrOverlongKeyOrIdIsAValidateDeadLetter(String field, int length, String what) {
        String value = length < 0 ? "  \t" : "x".repeat(length);
        Transaction t =
                txn(
                        x -> {
                            if (field.equals("card_id")) {
                                x.setCardId(value);
                            } else {
                                x.setTransactionId(value);
                            }
                        });

        DeadLetter letter = rejected(decode(t), Stage.VALIDATE);

        assertThat(letter.getErrorMessage()).startsWith(field + " (" + what + "): expected ");
        assertThat(letter.getErrorClass()).isEqualTo("dev.streamscore.InvalidEvent");
        if (length > 128) {
            assertThat(letter.getErrorMessage())
                    .contains("at most 128 characters, found " + length);
        } else {
            assertThat(letter.getErrorMessage()).contains("expected a non-empty value");
        }
        if (field.equals("transaction_id") && length > 256) {
            assertThat(letter.getTransactionId()).hasSize(256);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 64, 128})
    void keysAndIdsUpTo128CharactersPass(int length) {
        PipelineEvent e =
                decode(
                                txn(
                                        x -> {
                                            x.setCardId("c".repeat(length));
                                            x.setTransactionId("t".repeat(length));
                                        }))
                        .event();
        assertThat(e).isNotNull();
        assertThat(e.key).hasSize(length);
        assertThat(e.id).hasSize(length);
    }

    @Test
    void aTimeBefore2000IsAValidateDeadLetter() {
        long earliest = EventDecoder.EARLIEST.toEpochMilli();
        assertThat(decode(txn(x -> x.setEventTime(EventDecoder.EARLIEST))).event()).isNotNull();

        DeadLetter letter =
                rejected(
                        decode(txn(x -> x.setEventTime(Instant.ofEpochMilli(earliest - 1)))),
                        Stage.VALIDATE);

        assertThat(letter.getErrorMessage())
                .isEqualTo(
                        "event_time (the time): expected a time after 2000-01-01T00:00:00Z, found "
                                + (earliest - 1)
                                + " ms");
    }

    @Test
    void aTimeAfterNowPlusTheClockSkewIsAValidateDeadLetter() {
        Instant latest = NOW.plusMillis(SKEW_MILLIS);
        assertThat(decode(txn(x -> x.setEventTime(latest))).event()).isNotNull();

        DeadLetter letter =
                rejected(decode(txn(x -> x.setEventTime(latest.plusMillis(1)))), Stage.VALIDATE);
        assertThat(letter.getErrorMessage())
                .startsWith(
                        "event_time (the time): expected a time no later than "
                                + latest
                                + " (now plus the allowed clock skew), found "
                                + latest.plusMillis(1));

        DeadLetter micros =
                rejected(
                        decode(txn(x -> x.setEventTime(Instant.ofEpochMilli(NOW_MILLIS * 1000)))),
                        Stage.VALIDATE);
        assertThat(micros.getErrorMessage())
                .endsWith(
                        "found "
                                + NOW_MILLIS * 1000
                                + " ms (a time in microseconds or nanoseconds read as"
                                + " milliseconds?)");
    }

    @Test
    void aZeroClockSkewAcceptsNoTimeAfterNow() throws Exception {
        EventDecoder strict = new EventDecoder(CARD_FRAUD.definition(), 1 << 20, Duration.ZERO);
        strict.open();
        assertThat(decode(strict, CODEC.encode(txn(x -> x.setEventTime(NOW)))).event()).isNotNull();
        rejected(
                decode(strict, CODEC.encode(txn(x -> x.setEventTime(NOW.plusMillis(1))))),
                Stage.VALIDATE);
    }

    @Test
    void aRecordWrittenWithAnUnknownSchemaIsADecodeDeadLetter() throws Exception {
        // Transaction as a later version might write it: one more field. Its fingerprint is not
        // one the pipeline knows.
        Schema v2 =
                new Schema.Parser()
                        .parse(
                                CARD_FRAUD
                                        .inputSchema()
                                        .toString()
                                        .replace(
                                                "{\"name\":\"device_id\"",
                                                "{\"name\":\"risk_hint\",\"type\":\"int\"},"
                                                        + "{\"name\":\"device_id\""));
        assertThat(v2.getFields()).hasSize(CARD_FRAUD.inputSchema().getFields().size() + 1);
        GenericRecord r = new GenericData.Record(v2);
        GenericRecord old =
                new AvroEvents(CARD_FRAUD.inputSchema()).decodeMessage(CODEC.encode(txn(x -> {})));
        for (Schema.Field f : CARD_FRAUD.inputSchema().getFields()) {
            r.put(f.name(), old.get(f.name()));
        }
        r.put("risk_hint", 3);
        var buffer = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v2).encode(r);
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);

        DeadLetter letter = rejected(decode(cards, bytes), Stage.DECODE);

        assertThat(letter.getErrorMessage())
                .startsWith("writer schema fingerprint C301 ")
                .endsWith(
                        " is not dev.streamscore.schemas.Transaction or a version of it this"
                                + " pipeline knows");
        assertThat(letter.getPayloadSize()).isEqualTo(bytes.length);
        assertThat(letter.getTransactionId()).isNull();
    }

    @Test
    void aTombstoneIsADecodeDeadLetterOfNoBytes() {
        List<DeadLetter> letters = new ArrayList<>();
        PipelineEvent e =
                cards.decode(
                        new KafkaRecord(null, "in", 2, 40, 0),
                        NOW_MILLIS,
                        (letter, ignored) -> letters.add(letter),
                        null);

        assertThat(e).isNull();
        assertThat(letters)
                .singleElement()
                .satisfies(
                        l -> {
                            assertThat(l.getStage()).isEqualTo(Stage.DECODE);
                            assertThat(l.getPayloadSize()).isZero();
                            assertThat(l.getErrorMessage()).contains("found an empty record");
                        });
    }
}
