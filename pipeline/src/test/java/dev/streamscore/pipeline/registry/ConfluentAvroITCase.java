package dev.streamscore.pipeline.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.pipeline.events.ConfluentAvro;
import dev.streamscore.pipeline.events.DecodeException;
import java.util.Map;
import java.util.Random;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Confluent's Avro wire format against a real Apicurio Registry: records of an older and a newer
 * writer schema read into the reader schema, a writer that does not resolve refused with Avro's
 * reason, and fuzzing (random bytes, random ids, known ids with random bodies, lengths past the
 * heap): always a record or one {@link DecodeException}.
 */
class ConfluentAvroITCase {

    static ApicurioRegistry registry;
    static SchemaRegistryClient client;

    static final Schema V1 = SchemaRegistryClientITCase.V1;
    static final Schema V2 = SchemaRegistryClientITCase.V2;

    /** amount_minor as a string: not a version of the same record. */
    static final Schema INCOMPATIBLE =
            SchemaBuilder.record("Payout")
                    .namespace("example")
                    .fields()
                    .requiredString("payout_id")
                    .requiredString("amount_minor")
                    .endRecord();

    static int v1;
    static int v2;
    static int incompatible;

    @BeforeAll
    static void start() throws Exception {
        registry = new ApicurioRegistry().start();
        client = new SchemaRegistryClient(registry.url(), Map.of());
        v1 = client.register("payouts-value", V1);
        v2 = client.register("payouts-value", V2);
        incompatible = client.register("other-value", INCOMPATIBLE);
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
    }

    static GenericRecord payout(Schema schema, String id, long amount) {
        GenericRecord r = new GenericData.Record(schema);
        r.put("payout_id", id);
        r.put("amount_minor", amount);
        if (schema.getField("channel") != null) {
            r.put("channel", "app");
        }
        return r;
    }

    @Test
    void eachWriterVersionIsReadIntoTheReaderSchema() throws Exception {
        ConfluentAvro asV2 =
                new ConfluentAvro(V2, new SchemaRegistryClient(registry.url(), Map.of()));
        byte[] old = new ConfluentAvro(V1, client).encode(payout(V1, "p-1", 1234), v1);
        assertThat(old[0]).isZero();
        assertThat(ConfluentAvro.schemaId(old)).isEqualTo(v1);
        GenericRecord read = asV2.decode(old);
        assertThat(read.getSchema()).isEqualTo(V2);
        assertThat(read.get("payout_id").toString()).isEqualTo("p-1");
        assertThat(read.get("amount_minor")).isEqualTo(1234L);
        assertThat(read.get("channel").toString()).as("the reader's default").isEqualTo("web");

        ConfluentAvro asV1 = new ConfluentAvro(V1, client);
        GenericRecord newer = asV1.decode(asV2.encode(payout(V2, "p-2", 99), v2));
        assertThat(newer.get("payout_id").toString()).isEqualTo("p-2");
        assertThat(newer.getSchema().getField("channel")).isNull();
    }

    @Test
    void aWriterThatDoesNotResolveAndAnUnknownIdAreRefusedWithTheReason() throws Exception {
        ConfluentAvro decoder = new ConfluentAvro(V1, client);
        GenericRecord wrong = new GenericData.Record(INCOMPATIBLE);
        wrong.put("payout_id", "p-3");
        wrong.put("amount_minor", "12");
        byte[] bytes = new ConfluentAvro(INCOMPATIBLE, client).encode(wrong, incompatible);
        assertThatThrownBy(() -> decoder.decode(bytes))
                .isInstanceOf(DecodeException.class)
                .hasMessageContaining("writer schema id " + incompatible)
                .hasMessageContaining("does not resolve")
                .hasMessageContaining("amount_minor");
        byte[] unknown = bytes.clone();
        unknown[1] = 0x10; // id 268435456 and more
        assertThatThrownBy(() -> decoder.decode(unknown))
                .isInstanceOf(DecodeException.class)
                .hasMessageContaining("is not in the registry")
                .hasCauseInstanceOf(RegistryException.class);
        assertThatThrownBy(() -> decoder.decode(new byte[] {0, 0, 0}))
                .isInstanceOf(DecodeException.class)
                .hasMessageContaining("expected Confluent's Avro wire format");
    }

    @Test
    void anyBytesAreARecordOrOneDecodeException() throws Exception {
        ConfluentAvro decoder = new ConfluentAvro(V2, client);
        ConfluentAvro writer = new ConfluentAvro(V1, client);
        Random random = new Random(17);
        int records = 0;
        int refused = 0;
        for (int i = 0; i < 20_000; i++) {
            byte[] bytes;
            switch (i % 5) {
                case 0 -> random.nextBytes(bytes = new byte[random.nextInt(40)]);
                case 1 -> {
                    bytes = writer.encode(payout(V1, "p" + i, random.nextLong()), v1);
                    bytes[5 + random.nextInt(bytes.length - 5)] = (byte) random.nextInt(256);
                }
                case 2 -> {
                    bytes = writer.encode(payout(V1, "p" + i, random.nextLong()), v1);
                    bytes = java.util.Arrays.copyOf(bytes, 5 + random.nextInt(bytes.length - 4));
                }
                case 3 -> {
                    // A known id, then a string length past the heap.
                    bytes =
                            new byte[] {
                                0,
                                0,
                                0,
                                0,
                                (byte) v1,
                                (byte) 0xFE,
                                (byte) 0xFF,
                                (byte) 0xFF,
                                (byte) 0xFF,
                                (byte) 0xFF,
                                (byte) 0xFF,
                                (byte) 0xFF,
                                0x7F
                            };
                }
                default -> {
                    bytes = writer.encode(payout(V1, "p" + i, i), random.nextInt(64));
                }
            }
            try {
                GenericRecord r = decoder.decode(bytes);
                assertThat(r.getSchema()).isEqualTo(V2);
                records++;
            } catch (DecodeException e) {
                assertThat(e.getMessage()).isNotBlank();
                refused++;
            }
        }
        assertThat(records).isGreaterThan(3_000);
        assertThat(refused).isGreaterThan(8_000);
    }
}
