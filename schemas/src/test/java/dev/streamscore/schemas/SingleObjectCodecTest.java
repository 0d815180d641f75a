package dev.streamscore.schemas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.schemas.serde.SingleObjectCodec.DecodeException;
import java.time.Instant;
import java.util.Arrays;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.junit.jupiter.api.Test;

class SingleObjectCodecTest {

    private final SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);

    static Transaction sampleTransaction() {
        return Transaction.newBuilder()
                .setTransactionId("tx-1")
                .setCardId("card-000001")
                .setMerchantId("m-00001")
                .setMerchantCategory("5411")
                .setAmountMinor(1234)
                .setCurrency("EUR")
                .setCountry("DE")
                .setChannel(Channel.POS)
                .setCardPresent(true)
                .setEventTime(Instant.parse("2026-11-01T10:15:30Z"))
                .build();
    }

    @Test
    void writesTheSingleObjectHeaderWithTheSchemaFingerprint() {
        byte[] bytes = codec.encode(sampleTransaction());
        long fingerprint = SchemaNormalization.parsingFingerprint64(Transaction.getClassSchema());
        assertThat(bytes[0]).isEqualTo((byte) 0xC3);
        assertThat(bytes[1]).isEqualTo((byte) 0x01);
        for (int i = 0; i < 8; i++) {
            assertThat(bytes[2 + i]).isEqualTo((byte) (fingerprint >>> (8 * i)));
        }
    }

    @Test
    void roundTripsEveryField() throws Exception {
        Transaction txn = sampleTransaction();
        txn.setDeviceId("dev-9");
        assertThat(codec.decode(codec.encode(txn))).isEqualTo(txn);
    }

    @Test
    void resolvesAnOlderWriterSchemaByItsFingerprint() throws Exception {
        // An older producer's schema: the current one without the optional device_id field.
        Schema current = Transaction.getClassSchema();
        Schema older =
                Schema.createRecord(
                        current.getName(),
                        current.getDoc(),
                        current.getNamespace(),
                        false,
                        current.getFields().stream()
                                .filter(f -> !f.name().equals("device_id"))
                                .map(f -> new Schema.Field(f, f.schema()))
                                .toList());
        GenericRecord record = new GenericData.Record(older);
        Transaction sample = sampleTransaction();
        for (Schema.Field f : older.getFields()) {
            Object value = sample.get(f.name());
            if (value instanceof Instant instant) {
                value = instant.toEpochMilli();
            } else if (value instanceof Channel channel) {
                value = new GenericData.EnumSymbol(f.schema(), channel.name());
            }
            record.put(f.name(), value);
        }
        byte[] bytes =
                new BinaryMessageEncoder<GenericRecord>(GenericData.get(), older)
                        .encode(record)
                        .array();

        assertThatThrownBy(() -> codec.decode(bytes))
                .as("a writer schema the reader was never told of")
                .isInstanceOf(DecodeException.class)
                .hasMessageContaining("is not a known version");
        Transaction decoded =
                SingleObjectCodec.withWriterSchemas(Transaction.class, java.util.List.of(older))
                        .decode(bytes);
        assertThat(decoded.getTransactionId()).isEqualTo("tx-1");
        assertThat(decoded.getAmountMinor()).isEqualTo(1234);
        assertThat(decoded.getDeviceId()).as("default of the field the writer lacked").isNull();
    }

    @Test
    void rejectsGarbageWithTheHeaderItFound() {
        assertThatThrownBy(() -> codec.decode("hello world".getBytes()))
                .isInstanceOf(DecodeException.class)
                .hasMessageContaining("expected Avro single-object header C3 01")
                .hasMessageContaining("6865");
    }

    @Test
    void rejectsAnEmptyRecord() {
        assertThatThrownBy(() -> codec.decode(new byte[0]))
                .isInstanceOf(DecodeException.class)
                .hasMessageContaining("found an empty record");
    }

    @Test
    void rejectsAnUnknownWriterFingerprint() {
        byte[] bytes = codec.encode(sampleTransaction());
        bytes[5] ^= 0x11;
        assertThatThrownBy(() -> codec.decode(bytes))
                .isInstanceOf(DecodeException.class)
                .hasMessageContaining("is not a known version of Transaction");
    }

    @Test
    void rejectsATruncatedBody() {
        byte[] bytes = codec.encode(sampleTransaction());
        assertThatThrownBy(() -> codec.decode(Arrays.copyOf(bytes, 14)))
                .isInstanceOf(DecodeException.class)
                .hasMessageContaining("does not decode as Transaction");
    }
}
