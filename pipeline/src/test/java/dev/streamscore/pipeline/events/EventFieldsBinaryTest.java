package dev.streamscore.pipeline.events;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.pipeline.expr.Variables;
import dev.streamscore.pipeline.expr.Vars;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.junit.jupiter.api.Test;

/**
 * The direct binary reader against Avro's own: on valid bodies, and on the same bodies cut short,
 * with bytes changed or replaced by random ones, it gives exactly the values Avro's reader decodes
 * when Avro decodes them, and throws when Avro throws.
 */
class EventFieldsBinaryTest {

    static final Schema SCHEMA =
            new Schema.Parser()
                    .parse(
                            """
{"type": "record", "name": "E", "fields": [
  {"name": "id", "type": "string"},
  {"name": "country", "type": "string"},
  {"name": "note", "type": ["null", "string"]},
  {"name": "channel", "type": {"type": "enum", "name": "C", "symbols": ["A", "B", "C"]}},
  {"name": "n", "type": "int"},
  {"name": "amount", "type": "long"},
  {"name": "rate", "type": "float"},
  {"name": "score", "type": "double"},
  {"name": "flag", "type": "boolean"},
  {"name": "blob", "type": "bytes"},
  {"name": "maybe", "type": ["long", "null"]},
  {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}
]}\
""");

    static final String[] COUNTRIES = {"DE", "FR", "", "ÄÖ", "US"};

    static GenericRecord record(Random random) {
        GenericRecord r = new GenericData.Record(SCHEMA);
        r.put("id", "id-" + random.nextLong());
        r.put("country", COUNTRIES[random.nextInt(COUNTRIES.length)]);
        r.put("note", random.nextBoolean() ? null : "n" + random.nextInt(100));
        r.put(
                "channel",
                new GenericData.EnumSymbol(
                        SCHEMA.getField("channel").schema(), "ABC".charAt(random.nextInt(3)) + ""));
        r.put("n", random.nextInt());
        r.put("amount", random.nextLong() >> random.nextInt(64));
        r.put("rate", random.nextFloat() * 1e6f - 5e5f);
        r.put("score", random.nextBoolean() ? Double.NaN : random.nextGaussian() * 1e9);
        r.put("flag", random.nextBoolean());
        byte[] blob = new byte[random.nextInt(20)];
        random.nextBytes(blob);
        r.put("blob", ByteBuffer.wrap(blob));
        r.put("maybe", random.nextBoolean() ? null : random.nextLong());
        r.put("at", random.nextLong() >> 20);
        return r;
    }

    static byte[] encode(GenericRecord r) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder e = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(SCHEMA).write(r, e);
        e.flush();
        return out.toByteArray();
    }

    @Test
    void readsWhatAvroReadsAndFailsWhereAvroFails() throws Exception {
        Variables variables = new Variables();
        EventFields fields = new EventFields(SCHEMA, variables);
        assertThat(fields.readsBinary()).isTrue();
        Random random = new Random(11);
        int read = 0;
        int failed = 0;
        for (int i = 0; i < 40_000; i++) {
            byte[] body = encode(record(random));
            switch (i % 5) {
                case 1 -> body = Arrays.copyOf(body, random.nextInt(body.length + 1));
                case 2 -> {
                    for (int k = 0; k < 1 + random.nextInt(3); k++) {
                        body[random.nextInt(body.length)] = (byte) random.nextInt(256);
                    }
                }
                case 3 -> random.nextBytes(body = new byte[random.nextInt(80)]);
                case 4 -> {
                    // A run of continuation bytes somewhere: numbers longer than their type.
                    int at = random.nextInt(body.length + 1);
                    byte[] run = new byte[1 + random.nextInt(11)];
                    for (int k = 0; k < run.length; k++) {
                        run[k] = (byte) (0x80 | random.nextInt(128));
                    }
                    byte[] longer = new byte[body.length + run.length];
                    System.arraycopy(body, 0, longer, 0, at);
                    System.arraycopy(run, 0, longer, at, run.length);
                    System.arraycopy(body, at, longer, at + run.length, body.length - at);
                    body = longer;
                }
                default -> {}
            }
            int offset = random.nextInt(4);
            byte[] framed = new byte[offset + body.length + random.nextInt(3)];
            System.arraycopy(body, 0, framed, offset, body.length);

            GenericRecord avro;
            try {
                avro =
                        new GenericDatumReader<GenericRecord>(SCHEMA)
                                .read(null, DecoderFactory.get().binaryDecoder(body, null));
            } catch (Exception | OutOfMemoryError e) {
                avro = null;
            }
            Vars ours = new Vars(variables);
            boolean ok;
            try {
                fields.readBinary(framed, offset, body.length, ours);
                ok = true;
            } catch (java.io.IOException e) {
                ok = false;
            }
            assertThat(ok).as("case %d: ours read it iff Avro did", i).isEqualTo(avro != null);
            if (avro != null) {
                Vars expected = new Vars(variables);
                fields.load(avro, expected);
                assertThat(ours.longs).as("case %d", i).isEqualTo(expected.longs);
                assertThat(bits(ours.doubles)).as("case %d", i).isEqualTo(bits(expected.doubles));
                assertThat(ours.objects).as("case %d", i).isEqualTo(expected.objects);
                read++;
            } else {
                failed++;
            }
        }
        assertThat(read).isGreaterThan(8_000);
        assertThat(failed).isGreaterThan(5_000);
    }

    @Test
    void aFieldOfFewValuesGivesOneStringPerValueAndOneOfManyStopsKeepingThem() throws Exception {
        Variables variables = new Variables();
        EventFields fields = new EventFields(SCHEMA, variables);
        Random random = new Random(3);
        Vars a = new Vars(variables);
        Vars b = new Vars(variables);
        int country = variables.get("country").index();
        int id = variables.get("id").index();
        for (int i = 0; i < 5_000; i++) {
            GenericRecord r = record(random);
            fields.readBinary(encode(r), 0, encode(r).length, a);
            r.put("id", "id-" + random.nextLong());
            fields.readBinary(encode(r), 0, encode(r).length, b);
            assertThat(a.objects[country]).isSameAs(b.objects[country]);
            assertThat(a.objects[id]).isNotEqualTo(b.objects[id]);
        }
    }

    private static long[] bits(double[] values) {
        long[] bits = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Double.doubleToRawLongBits(values[i]);
        }
        return bits;
    }
}
