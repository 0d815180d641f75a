package dev.streamscore.operators.serde;

import static dev.streamscore.operators.serde.HostileInputs.CARD_FRAUD;
import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every record of the committed corpus ({@code src/test/resources/decode-corpus/}, written by
 * {@link DecodeCorpus}) becomes exactly one dead letter of the stage its name gives, through the
 * generic decoder ({@link EventDecoder} with the bundled card-fraud pipeline) as the job runs it.
 */
class DecodeCorpusTest {

    private static final long NOW = DecodeCorpus.NOW.toEpochMilli();

    /** What some kinds' messages must say, beyond being there. */
    private static final Map<String, String> MESSAGES =
            Map.ofEntries(
                    Map.entry("decode--empty-value-or-tombstone", "found an empty record"),
                    Map.entry("decode--json-not-avro", "expected Avro single-object header"),
                    Map.entry("decode--unknown-schema-fingerprint", "writer schema fingerprint"),
                    Map.entry(
                            "decode--a-fraud-label-not-a-transaction", "writer schema fingerprint"),
                    Map.entry("decode--truncated-body", "does not decode as Transaction"),
                    Map.entry("validate--event-time-in-microseconds", "event_time (the time)"),
                    Map.entry("validate--event-time-long-max", "event_time (the time)"),
                    Map.entry("validate--event-time-long-min", "expected a time after"),
                    Map.entry("validate--event-time-before-2000", "expected a time after"),
                    Map.entry("validate--event-time-in-2100", "now plus the allowed clock skew"),
                    Map.entry("validate--transaction-id-of-64-kib", "transaction_id (the id)"),
                    Map.entry("validate--transaction-id-empty", "transaction_id (the id)"),
                    Map.entry("validate--card-id-empty", "card_id (the key)"),
                    Map.entry("validate--card-id-of-129-chars", "card_id (the key)"),
                    Map.entry(
                            "validate--check-merchant-category-with-a-line-end",
                            "check failed: merchant_category.matches(\"^[0-9]{4}$\")"),
                    Map.entry(
                            "validate--check-currency-in-lower-case",
                            "check failed: currency.matches(\"^[A-Z]{3}$\")"),
                    Map.entry(
                            "validate--check-amount-zero",
                            "check failed: amount_minor > 0 && amount_minor <= 1000000000000"));

    static Stream<Path> corpus() throws Exception {
        return Files.list(directory()).filter(p -> p.toString().endsWith(".bin")).sorted();
    }

    private static Path directory() throws URISyntaxException {
        return Path.of(DecodeCorpusTest.class.getResource("/" + DecodeCorpus.DIRECTORY).toURI());
    }

    @Test
    void holdsEveryKindTheWriterKnowsAsItWritesIt() throws Exception {
        List<String> files = corpus().map(p -> p.getFileName().toString()).toList();
        for (Map.Entry<String, byte[]> kind : DecodeCorpus.cases().entrySet()) {
            assertThat(files).contains(kind.getKey() + ".bin");
            assertThat(Files.readAllBytes(directory().resolve(kind.getKey() + ".bin")))
                    .as(kind.getKey())
                    .isEqualTo(kind.getValue());
        }
        assertThat(MESSAGES.keySet()).allSatisfy(k -> assertThat(files).contains(k + ".bin"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void eachRecordIsOneDeadLetterOfItsStage(Path file) throws Exception {
        byte[] bytes = Files.readAllBytes(file);
        String name = file.getFileName().toString();
        String kind = name.substring(0, name.length() - ".bin".length());
        Stage expected =
                Stage.valueOf(name.substring(0, name.indexOf("--")).toUpperCase(Locale.ROOT));

        List<DeadLetter> letters = new ArrayList<>();
        PipelineEvent out =
                HostileInputs.decoder(CARD_FRAUD)
                        .decode(
                                new KafkaRecord(bytes, "transactions", 0, 1, 0),
                                NOW,
                                (letter, ignored) -> letters.add(letter),
                                null);

        assertThat(out).isNull();
        assertThat(letters).hasSize(1);
        DeadLetter letter = letters.get(0);
        assertThat(letter.getStage()).as(letter.getErrorMessage()).isEqualTo(expected);
        assertThat(letter.getPayloadSize()).isEqualTo(bytes.length);
        assertThat(letter.getPayloadSha256()).isEqualTo(DeadLetters.sha256(bytes));
        assertThat(letter.getSourceTopic()).isEqualTo("transactions");
        assertThat(letter.getSourceOffset()).isEqualTo(1);
        assertThat(letter.getErrorMessage()).isNotBlank();
        if (MESSAGES.containsKey(kind)) {
            assertThat(letter.getErrorMessage()).contains(MESSAGES.get(kind));
        }
        if (expected == Stage.VALIDATE) {
            // It decoded: the letter says which transaction it was (cut to what fits).
            assertThat(letter.getTransactionId()).isNotNull();
        }
    }

    @Test
    void theRunningOperatorTurnsTheWholeCorpusIntoDeadLettersAndKeepsGoing() throws Exception {
        List<Path> files = corpus().toList();
        try (var h =
                ProcessFunctionTestHarnesses.forProcessFunction(
                        new EventDecoder(
                                CARD_FRAUD.definition(),
                                EventDecoder.DEFAULT_MAX_RECORD_BYTES,
                                EventDecoder.DEFAULT_MAX_CLOCK_SKEW))) {
            long offset = 0;
            for (Path file : files) {
                h.processElement(new KafkaRecord(Files.readAllBytes(file), "t", 0, offset++, 0), 0);
            }
            byte[] valid =
                    HostileInputs.CODEC.encode(
                            HostileInputs.transaction("tx-after", Instant.now()));
            h.processElement(new KafkaRecord(valid, "t", 0, offset, 0), 0);

            assertThat(h.extractOutputValues())
                    .singleElement()
                    .satisfies(
                            e -> {
                                assertThat(e.id).isEqualTo("tx-after");
                                assertThat(e.key).isEqualTo("card-1");
                                assertThat(e.sourceOffset).isEqualTo(files.size());
                            });
            List<DeadLetter> letters =
                    h.getSideOutput(DeadLetters.TAG).stream().map(StreamRecord::getValue).toList();
            assertThat(letters).hasSize(files.size());
            for (int i = 0; i < files.size(); i++) {
                String name = files.get(i).getFileName().toString();
                assertThat(letters.get(i).getSourceOffset()).isEqualTo(i);
                assertThat(letters.get(i).getStage().name().toLowerCase(Locale.ROOT))
                        .as(name)
                        .isEqualTo(name.substring(0, name.indexOf("--")));
            }
        }
    }
}
