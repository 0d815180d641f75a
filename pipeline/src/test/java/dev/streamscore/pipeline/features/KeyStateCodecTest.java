package dev.streamscore.pipeline.features;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.pipeline.PipelineDefinition;
import dev.streamscore.pipeline.PipelineException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;

/**
 * The key state's bytes hold everything the features depend on: a state read back from its bytes
 * goes on to give bit-identical feature rows and re-send answers to the state it was written from,
 * over random streams of the card-fraud file (late events, re-sends, keys past the ring's bound);
 * and state written by the previous format (version 2, a fixture) still reads.
 */
class KeyStateCodecTest {

    static final Pipeline CARD_FRAUD = load();
    static final Schema SCHEMA = CARD_FRAUD.inputSchema();
    static final long T0 = 1_793_000_000_000L;
    static final long DEDUP = 3_600_000L;
    static final String[] COUNTRIES = {"DE", "FR", "NL", "US", "GB", "ES", "IT"};
    static final String[] CHANNELS = {"POS", "ECOM", "ATM"};

    private static Pipeline load() {
        try {
            return Pipeline.load(PipelineDefinition.DEFAULT, null, false);
        } catch (PipelineException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One key's engine and state, fed event by event. */
    static final class Key {
        final Pipeline.Compiled compiled;
        KeyState state;

        Key(int maxEvents) {
            compiled = CARD_FRAUD.newEngine(maxEvents);
            state = compiled.engine().newState();
        }

        float[] apply(GenericRecord event, long now) throws FeatureException {
            long id = KeyState.idHash(event.get("transaction_id").toString());
            float[] first = state.featuresOf(id, now, DEDUP);
            if (first != null) {
                return first;
            }
            compiled.fields().load(event, compiled.engine().vars());
            float[] row = compiled.engine().computeAndUpdate(state, (Long) event.get("event_time"));
            try {
                state.remember(id, now, row, DEDUP, (h, t, f) -> {});
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return row;
        }
    }

    static GenericRecord event(Random random, int i, long time) {
        GenericRecord r = new GenericData.Record(SCHEMA);
        String channel = CHANNELS[random.nextInt(CHANNELS.length)];
        r.put("transaction_id", "t-" + i);
        r.put("card_id", "card-1");
        r.put("merchant_id", "m-" + random.nextInt(5));
        r.put("merchant_category", channel.equals("ECOM") ? "5967" : "5411");
        r.put(
                "amount_minor",
                random.nextInt(10) == 0
                        ? random.nextInt(499) + 1
                        : (long) random.nextInt(200_000) + 1);
        r.put("currency", "EUR");
        r.put("country", COUNTRIES[random.nextInt(random.nextBoolean() ? 2 : COUNTRIES.length)]);
        r.put("channel", new GenericData.EnumSymbol(SCHEMA.getField("channel").schema(), channel));
        r.put("card_present", !channel.equals("ECOM"));
        r.put("event_time", time);
        r.put("device_id", channel.equals("ECOM") ? "dev-" + random.nextInt(3) : null);
        return r;
    }

    /** A key's stream: mostly in order, some late, some re-sent, gaps from seconds to days. */
    static List<GenericRecord> stream(Random random, int n) {
        List<GenericRecord> events = new ArrayList<>();
        long time = T0;
        for (int i = 0; i < n; i++) {
            int gap = random.nextInt(20);
            time +=
                    gap == 0
                            ? 2 * 86_400_000L
                            : gap < 5 ? random.nextInt(60_000) : random.nextInt(3_600_000);
            long t = random.nextInt(10) == 0 ? time - random.nextInt(30 * 3_600_000) : time;
            if (random.nextInt(12) == 0 && !events.isEmpty()) {
                events.add(events.get(random.nextInt(events.size()))); // a re-send
            } else {
                events.add(event(random, i, t));
            }
        }
        return events;
    }

    @Test
    void aStateReadFromItsBytesGoesOnExactlyAsTheStateItWasWrittenFrom() throws Exception {
        KeyStateCodec codec = CARD_FRAUD.stateCodec();
        for (int seed = 0; seed < 40; seed++) {
            Random random = new Random(seed);
            int maxEvents = seed % 4 == 0 ? 8 : 1024;
            Key kept = new Key(maxEvents);
            Key reread = new Key(maxEvents);
            long now = T0 + 86_400_000L;
            int i = 0;
            for (GenericRecord e : stream(random, 300)) {
                now += random.nextInt(1_200_000);
                float[] a = kept.apply(e, now);
                float[] b = reread.apply(e, now);
                assertThat(b).as("seed %d event %d", seed, i).isEqualTo(a);
                assertThat(Arrays.equals(floatBits(a), floatBits(b))).isTrue();
                byte[] bytes = codec.encode(reread.state);
                reread.state = codec.decode(bytes);
                assertThat(reread.state).isNotNull();
                assertThat(codec.encode(reread.state))
                        .as("seed %d event %d", seed, i)
                        .isEqualTo(bytes);
                assertThat(codec.encode(kept.state)).isEqualTo(bytes);
                i++;
            }
        }
    }

    /**
     * Every field of a state round-trips bit for bit, at the values no stream of live events makes:
     * NaNs of other bits, -0.0, numbers beyond 2^52, times at the ends of the long range.
     */
    @Test
    void everyFieldRoundTripsAtItsEdgeValues() throws Exception {
        KeyStateCodec codec = CARD_FRAUD.stateCodec();
        double[] doubles = {
            0.0,
            -0.0,
            1.0,
            -1.0,
            0x1p52,
            -0x1p53,
            1e300,
            Double.MIN_VALUE,
            Double.NaN,
            Double.longBitsToDouble(0x7ff8_0000_0000_0001L),
            Double.POSITIVE_INFINITY,
            0.1
        };
        long[] times = {Long.MIN_VALUE, Long.MAX_VALUE, 0, -1, 1, T0, Long.MIN_VALUE + 1};
        Random random = new Random(5);
        for (int round = 0; round < 2_000; round++) {
            Key key = new Key(1024);
            long now = T0 + 86_400_000L;
            for (GenericRecord e : stream(new Random(round), 1 + random.nextInt(40))) {
                now += random.nextInt(1_200_000);
                key.apply(e, now);
            }
            KeyState s = key.state;
            s.newest = times[random.nextInt(times.length)];
            s.evictedUntil =
                    random.nextBoolean() ? Long.MIN_VALUE : times[random.nextInt(times.length)];
            s.received = random.nextBoolean() ? random.nextLong() : random.nextInt(100);
            for (int a = 0; a < s.runCount.length; a++) {
                for (double[] field : new double[][] {s.runCount, s.runSum, s.runMean, s.evNum}) {
                    if (random.nextBoolean()) {
                        field[a] = doubles[random.nextInt(doubles.length)];
                    }
                }
                if (random.nextBoolean()) {
                    s.evTime[a] = times[random.nextInt(times.length)];
                }
            }
            for (int i = 0; i < s.size; i++) {
                s.times[i] =
                        random.nextInt(4) == 0 ? times[random.nextInt(times.length)] : s.times[i];
            }
            for (int i = 0; i < s.seenSize; i++) {
                s.seenTimes[i] = times[random.nextInt(times.length)];
            }
            s.spilledUntil = times[random.nextInt(times.length)];
            for (double[] column : s.num) {
                if (column != null) {
                    for (int i = 0; i < s.size; i++) {
                        if (random.nextInt(3) == 0) {
                            double d = doubles[random.nextInt(doubles.length)];
                            column[i] = Double.isNaN(d) ? Double.NaN : d; // NaN: not counted
                        }
                    }
                }
            }
            byte[] bytes = codec.encode(s);
            KeyState back = codec.decode(bytes);
            assertThat(back).isNotNull();
            String what = "round " + round;
            assertThat(back.received).as(what).isEqualTo(s.received);
            assertThat(back.newest).as(what).isEqualTo(s.newest);
            assertThat(back.evictedUntil).as(what).isEqualTo(s.evictedUntil);
            assertThat(bits(back.runCount)).as(what).isEqualTo(bits(s.runCount));
            assertThat(bits(back.runSum)).as(what).isEqualTo(bits(s.runSum));
            assertThat(bits(back.runMean)).as(what).isEqualTo(bits(s.runMean));
            assertThat(bits(back.evNum)).as(what).isEqualTo(bits(s.evNum));
            assertThat(back.evTime).as(what).isEqualTo(s.evTime);
            assertThat(back.evObj).as(what).isEqualTo(s.evObj);
            assertThat(back.size).as(what).isEqualTo(s.size);
            assertThat(Arrays.copyOf(back.times, s.size))
                    .as(what)
                    .isEqualTo(Arrays.copyOf(s.times, s.size));
            for (int c = 0; c < s.num.length; c++) {
                if (s.num[c] != null) {
                    assertThat(bits(Arrays.copyOf(back.num[c], s.size)))
                            .as(what)
                            .isEqualTo(bits(Arrays.copyOf(s.num[c], s.size)));
                }
                if (s.obj[c] != null) {
                    assertThat(Arrays.copyOf(back.obj[c], s.size))
                            .as(what)
                            .isEqualTo(Arrays.copyOf(s.obj[c], s.size));
                }
            }
            assertThat(back.seenSize).as(what).isEqualTo(s.seenSize);
            assertThat(Arrays.copyOf(back.seenIds, s.seenSize))
                    .isEqualTo(Arrays.copyOf(s.seenIds, s.seenSize));
            assertThat(Arrays.copyOf(back.seenTimes, s.seenSize))
                    .as(what)
                    .isEqualTo(Arrays.copyOf(s.seenTimes, s.seenSize));
            assertThat(back.spilledUntil).as(what).isEqualTo(s.spilledUntil);
            assertThat(codec.encode(back)).as(what).isEqualTo(bytes);
        }
    }

    private static long[] bits(double[] values) {
        long[] bits = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Double.doubleToRawLongBits(values[i]);
        }
        return bits;
    }

    private static int[] floatBits(float[] row) {
        int[] bits = new int[row.length];
        for (int i = 0; i < row.length; i++) {
            bits[i] = Float.floatToRawIntBits(row[i]);
        }
        return bits;
    }

    // --- the previous format ------------------------------------------------------------------

    static final String V2_FIXTURE = "keystate/card-fraud-v2.txt";

    /**
     * Each fixture line: a seed, the base64 of a state in the version 2 format after that seed's
     * first 200 events, then the feature rows of its next 40 events (as float bits).
     */
    @Test
    void stateWrittenInVersion2StillReadsAndGoesOnAsBefore() throws Exception {
        KeyStateCodec codec = CARD_FRAUD.stateCodec();
        List<String> lines;
        try (InputStream in = getClass().getClassLoader().getResourceAsStream(V2_FIXTURE)) {
            assertThat(in).as(V2_FIXTURE).isNotNull();
            lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
        assertThat(lines).hasSizeGreaterThanOrEqualTo(8);
        for (String line : lines) {
            String[] parts = line.split(" ");
            int seed = Integer.parseInt(parts[0]);
            byte[] bytes = Base64.getDecoder().decode(parts[1]);
            assertThat(bytes[0]).isEqualTo((byte) 2);
            Key key = new Key(1024);
            key.state = codec.decode(bytes);
            assertThat(key.state).as("seed %d", seed).isNotNull();
            List<GenericRecord> events = stream(new Random(seed), 240);
            long now = nowAfter(seed, 200);
            for (int i = 200; i < 240; i++) {
                now += new Random(seed * 1000L + i).nextInt(1_200_000);
                float[] row = key.apply(events.get(i), now);
                assertThat(Arrays.toString(floatBits(row)))
                        .as("seed %d event %d", seed, i)
                        .isEqualTo(parts[2 + i - 200].replace("_", ", "));
            }
        }
    }

    private static long nowAfter(int seed, int events) {
        long now = T0 + 86_400_000L;
        for (int i = 0; i < events; i++) {
            now += new Random(seed * 1000L + i).nextInt(1_200_000);
        }
        return now;
    }

    /** Writes the version 2 fixture with the codec of the day: run once, when version 2 was it. */
    public static void main(String[] args) throws Exception {
        KeyStateCodec codec = CARD_FRAUD.stateCodec();
        StringBuilder out = new StringBuilder();
        for (int seed = 100; seed < 110; seed++) {
            List<GenericRecord> events = stream(new Random(seed), 240);
            Key key = new Key(1024);
            long now = T0 + 86_400_000L;
            StringBuilder rows = new StringBuilder();
            String state = null;
            for (int i = 0; i < 240; i++) {
                if (i == 200) {
                    state = Base64.getEncoder().encodeToString(codec.encode(key.state));
                }
                now += new Random(seed * 1000L + i).nextInt(1_200_000);
                float[] row = key.apply(events.get(i), now);
                if (i >= 200) {
                    rows.append(' ').append(Arrays.toString(floatBits(row)).replace(", ", "_"));
                }
            }
            out.append(seed).append(' ').append(state).append(rows).append('\n');
        }
        Files.writeString(Path.of(args[0]), out.toString());
    }
}
