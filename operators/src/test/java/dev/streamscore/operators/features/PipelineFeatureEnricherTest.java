package dev.streamscore.operators.features;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.pipeline.OfflineFeatures;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.pipeline.PipelineDefinition;
import dev.streamscore.pipeline.PipelineException;
import dev.streamscore.pipeline.events.AvroEvents;
import dev.streamscore.pipeline.events.EventFields;
import dev.streamscore.pipeline.features.FeatureException;
import dev.streamscore.pipeline.features.KeyState;
import dev.streamscore.pipeline.features.KeyStateCodec;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.jobgraph.OperatorID;
import org.apache.flink.runtime.metrics.groups.InternalOperatorMetricGroup;
import org.apache.flink.runtime.metrics.util.InterceptingOperatorMetricGroup;
import org.apache.flink.runtime.metrics.util.InterceptingTaskMetricGroup;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.operators.testutils.MockInputSplitProvider;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link PipelineFeatureEnricher} with the bundled card-fraud pipeline: its rows are the feature
 * engine's (what {@link OfflineFeatures} computes for training), a re-sent id gets its first row
 * and counts once (beyond the ids a key's state keeps inline too), the in-memory front and its
 * delayed writes change nothing but the cost (a checkpoint holds every key exactly, on RocksDB and
 * on the heap), a key unseen for the state TTL is forgotten, and an event whose features are not
 * finite is one dead letter that changes nothing.
 */
class PipelineFeatureEnricherTest {

    static final Pipeline CARD_FRAUD = load(PipelineDefinition.DEFAULT);
    static final Schema SCHEMA = CARD_FRAUD.inputSchema();
    static final Instant T0 = Instant.parse("2026-11-02T08:00:00Z");
    static final Duration TTL = Duration.ofDays(30);
    static final Duration DEDUP = Duration.ofHours(1);

    private static Pipeline load(String location) {
        try {
            return Pipeline.load(location, null, false);
        } catch (PipelineException e) {
            throw new IllegalStateException(e);
        }
    }

    static int index(String feature) {
        int i = CARD_FRAUD.featureNames().indexOf(feature);
        assertThat(i).as(feature).isNotNegative();
        return i;
    }

    // --- inputs -------------------------------------------------------------------------------

    /** A card transaction in the pipeline's reader schema. */
    static GenericRecord txn(
            String id, String card, Instant time, long amount, String country, String channel) {
        GenericRecord r = new GenericData.Record(SCHEMA);
        r.put("transaction_id", id);
        r.put("card_id", card);
        r.put("merchant_id", "m-1");
        r.put("merchant_category", channel.equals("ECOM") ? "5967" : "5411");
        r.put("amount_minor", amount);
        r.put("currency", "EUR");
        r.put("country", country);
        r.put("channel", new GenericData.EnumSymbol(SCHEMA.getField("channel").schema(), channel));
        r.put("card_present", !channel.equals("ECOM"));
        r.put("event_time", time.toEpochMilli());
        r.put("device_id", channel.equals("ECOM") ? "dev-" + card : null);
        return r;
    }

    /** Transaction {@code id} of card-1 at {@code minutes} after T0: 25 EUR at a POS. */
    static GenericRecord txn(String id, long minutes, String country) {
        return txn(id, "card-1", T0.plus(Duration.ofMinutes(minutes)), 2_500, country, "POS");
    }

    /** {@code r} as the decoder hands it on: body in the reader schema, raw as on Kafka. */
    static PipelineEvent event(GenericRecord r, long offset) {
        AvroEvents avro = new AvroEvents(r.getSchema());
        return new PipelineEvent(
                EventFields.text(r.get("card_id")),
                EventFields.text(r.get("transaction_id")),
                (Long) r.get("event_time"),
                avro.toBinary(r),
                avro.encodeMessage(r),
                "transactions",
                0,
                offset);
    }

    // --- harnesses ----------------------------------------------------------------------------

    /** A keyed harness around an enricher, with its operator metrics readable by name. */
    static final class Harness implements AutoCloseable {
        final KeyedOneInputStreamOperatorTestHarness<String, PipelineEvent, PipelineEvent> h;
        final Pipeline pipeline;
        private final MockEnvironment environment;
        private final Metrics metrics;

        Harness(PipelineFeatureEnricher enricher, Pipeline pipeline, StateBackend backend)
                throws Exception {
            this.pipeline = pipeline;
            this.metrics = new Metrics();
            this.environment =
                    new MockEnvironmentBuilder()
                            .setTaskName("MockTask")
                            .setManagedMemorySize(64 * 1024 * 1024) // RocksDB warns below ~16 MiB
                            .setInputSplitProvider(new MockInputSplitProvider())
                            .setBufferSize(1024)
                            .setMaxParallelism(1)
                            .setParallelism(1)
                            .setSubtaskIndex(0)
                            .setMetricGroup(metrics)
                            .build();
            this.h =
                    new KeyedOneInputStreamOperatorTestHarness<>(
                            enricher, (PipelineEvent e) -> e.key, Types.STRING, environment);
            h.setStateBackend(backend);
        }

        /** Restores {@code state} (when not null) and opens. */
        Harness open(OperatorSubtaskState state) throws Exception {
            if (state != null) {
                h.initializeState(state);
            }
            h.open();
            return this;
        }

        /** Sets processing time (the state TTL's clock too) and processes {@code e}. */
        void send(long now, PipelineEvent e) throws Exception {
            h.setProcessingTime(now);
            h.setStateTtlProcessingTime(now);
            h.processElement(e, 0);
        }

        void send(PipelineEvent e) throws Exception {
            h.processElement(e, 0);
        }

        List<PipelineEvent> out() {
            return h.extractOutputValues();
        }

        float[] last() {
            List<PipelineEvent> out = out();
            return out.get(out.size() - 1).features;
        }

        List<DeadLetter> deadLetters() {
            var side = h.getSideOutput(DeadLetters.TAG);
            return side == null ? List.of() : side.stream().map(StreamRecord::getValue).toList();
        }

        long count(String counter) {
            return ((Counter) metrics.operator.get(counter)).getCount();
        }

        Object gauge(String gauge) {
            return ((Gauge<?>) metrics.operator.get(gauge)).getValue();
        }

        OperatorSubtaskState snapshot(long checkpoint) throws Exception {
            return h.snapshot(checkpoint, checkpoint);
        }

        /**
         * Each key's events as the state backend has them (0: nothing written), not what the front
         * holds.
         */
        List<Long> receivedInState(String... keys) throws Exception {
            Field field = PipelineFeatureEnricher.class.getDeclaredField("state");
            field.setAccessible(true);
            @SuppressWarnings("unchecked")
            ValueState<byte[]> state = (ValueState<byte[]>) field.get(h.getOperator());
            KeyStateCodec codec = pipeline.stateCodec();
            List<Long> counts = new ArrayList<>();
            for (String key : keys) {
                h.getOperator().setCurrentKey(key);
                byte[] bytes = state.value();
                counts.add(bytes == null ? 0L : codec.decode(bytes).received());
            }
            return counts;
        }

        @Override
        public void close() throws Exception {
            try {
                h.close();
            } finally {
                environment.close();
            }
        }
    }

    /** A task metric group whose operator group keeps every metric, to read by name. */
    static final class Metrics extends InterceptingTaskMetricGroup {
        final InterceptingOperatorMetricGroup operator = new InterceptingOperatorMetricGroup();

        @Override
        public InternalOperatorMetricGroup getOrAddOperator(
                OperatorID id, String name, Map<String, String> additionalVariables) {
            return operator;
        }
    }

    static Harness harness(int frontKeys, Duration writeDelay, StateBackend backend)
            throws Exception {
        return harness(CARD_FRAUD, TTL, DEDUP, frontKeys, writeDelay, backend);
    }

    static Harness harness(
            Pipeline pipeline,
            Duration ttl,
            Duration dedup,
            int frontKeys,
            Duration writeDelay,
            StateBackend backend)
            throws Exception {
        return new Harness(
                new PipelineFeatureEnricher(
                        pipeline.definition(),
                        ttl,
                        dedup,
                        frontKeys,
                        writeDelay,
                        PipelineFeatureEnricher.DEFAULT_MAX_EVENTS_PER_KEY),
                pipeline,
                backend);
    }

    static Harness harness() throws Exception {
        return harness(
                PipelineFeatureEnricher.DEFAULT_FRONT_KEYS,
                PipelineFeatureEnricher.DEFAULT_WRITE_DELAY,
                new EmbeddedRocksDBStateBackend());
    }

    private static StateBackend backend(String name) {
        return name.equals("rocksdb")
                ? new EmbeddedRocksDBStateBackend()
                : new HashMapStateBackend();
    }

    /**
     * What the enricher must give, from the pipeline's feature engine on a plain state per key,
     * with a re-send recognised by an unbounded map of every id's first arrival and row.
     */
    static final class Reference {
        private final Pipeline.Compiled compiled;
        private final Map<String, KeyState> states = new HashMap<>();
        private final Map<String, Map.Entry<Long, float[]>> firstSeen = new HashMap<>();
        private final long window;

        Reference(Pipeline pipeline, Duration dedupWindow) {
            this.compiled = pipeline.newEngine(PipelineFeatureEnricher.DEFAULT_MAX_EVENTS_PER_KEY);
            this.window = dedupWindow.toMillis();
        }

        float[] features(GenericRecord r, long now) throws FeatureException {
            String key = EventFields.text(r.get("card_id"));
            String id = key + "/" + EventFields.text(r.get("transaction_id"));
            Map.Entry<Long, float[]> first = firstSeen.get(id);
            if (first != null && first.getKey() > now - window) {
                return first.getValue();
            }
            compiled.fields().load(r, compiled.vars());
            float[] f =
                    compiled.engine()
                            .computeAndUpdate(
                                    states.computeIfAbsent(key, k -> compiled.engine().newState()),
                                    (Long) r.get("event_time"));
            firstSeen.put(id, Map.entry(now, f));
            return f;
        }
    }

    // --- the rows -----------------------------------------------------------------------------

    @Test
    void enrichesEveryEventWithTheRowTheOfflineFeaturesGive() throws Exception {
        Random random = new Random(7);
        List<GenericRecord> events = new ArrayList<>();
        String[] countries = {"DE", "DE", "DE", "FR", "NL"};
        String[] channels = {"POS", "ECOM", "ATM"};
        for (int i = 0; i < 60; i++) {
            events.add(
                    txn(
                            "t" + i,
                            "card-" + random.nextInt(3),
                            T0.plus(Duration.ofMinutes(7L * i)),
                            random.nextBoolean() ? 100 + random.nextInt(400) : 10_000,
                            countries[random.nextInt(countries.length)],
                            channels[random.nextInt(channels.length)]));
        }
        List<OfflineFeatures.Row> rows = OfflineFeatures.compute(CARD_FRAUD, events);

        try (Harness h = harness().open(null)) {
            for (int i = 0; i < events.size(); i++) {
                h.send(i * 1_000L, event(events.get(i), i));
            }
            List<PipelineEvent> out = h.out();
            assertThat(out).hasSize(events.size());
            for (int i = 0; i < events.size(); i++) {
                OfflineFeatures.Row row = rows.get(i);
                PipelineEvent e = out.get(i);
                assertThat(e.id).isEqualTo(row.id());
                assertThat(e.features).as(row.id()).containsExactly(row.features());
                // Everything else is the event as it came.
                PipelineEvent in = event(events.get(i), i);
                in.features = e.features;
                assertThat(e).isEqualTo(in);
            }
            assertThat(h.deadLetters()).isEmpty();
        }
        // Enough history that the aggregates are not all trivial.
        assertThat(rows.get(59).features()[index("txn_count_24h")]).isGreaterThan(5f);
        assertThat(rows.stream().mapToDouble(r -> r.features()[index("foreign")]).sum())
                .isPositive();
    }

    @Test
    void aSmallRingGivesTheRowsOfTheEngineWithTheSameLimitAndCountsWhatLeftIt() throws Exception {
        int ring = 4;
        List<GenericRecord> events = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            events.add(txn("t" + i, i, i % 3 == 0 ? "FR" : "DE"));
        }
        List<OfflineFeatures.Row> rows = OfflineFeatures.compute(CARD_FRAUD, events, ring);
        try (Harness h =
                new Harness(
                                new PipelineFeatureEnricher(
                                        CARD_FRAUD.definition(),
                                        TTL,
                                        DEDUP,
                                        100,
                                        Duration.ofSeconds(1),
                                        ring),
                                CARD_FRAUD,
                                new EmbeddedRocksDBStateBackend())
                        .open(null)) {
            for (int i = 0; i < events.size(); i++) {
                h.send(i, event(events.get(i), i));
                assertThat(h.last()).as("t%d", i).containsExactly(rows.get(i).features());
            }
            assertThat(h.gauge(PipelineFeatureEnricher.EVENTS_DROPPED_OVER_LIMIT))
                    .isEqualTo((long) events.size() - ring);
            // Every event after the first drop: its window reaches back past events that left the
            // ring over the limit, so its windows may miss them.
            assertThat(h.gauge(PipelineFeatureEnricher.LATE_BEYOND_HISTORY))
                    .isEqualTo((long) events.size() - ring - 1);
        }
    }

    /**
     * The front in memory, its evictions and its flushes before the barrier, against the engine on
     * plain states: random traffic of a few keys with re-sends and slightly out-of-order event
     * times, snapshots and restores between rounds, and the same features as if nothing had ever
     * been in memory.
     */
    @ParameterizedTest(name = "front of {0} keys, written {1} ms after a change, on {2}")
    @CsvSource({
        "0, 1000, rocksdb",
        "1, 1000, rocksdb",
        "3, 1000, rocksdb",
        "1000, 1000, rocksdb",
        "1000, 0, rocksdb",
        "1000, 1, rocksdb",
        "1000, 30000, rocksdb",
        "1000, 100000000, rocksdb",
        "1, 0, rocksdb",
        "3, 1, rocksdb",
        "3, 30000, rocksdb",
        "0, 1000, hashmap",
        "3, 30000, hashmap",
        "1000, 1000, hashmap"
    })
    void theFrontChangesNothingButTheCost(int frontKeys, long writeDelayMillis, String backend)
            throws Exception {
        Random random = new Random(42 + frontKeys + 31L * writeDelayMillis);
        Duration writeDelay = Duration.ofMillis(writeDelayMillis);
        Reference reference = new Reference(CARD_FRAUD, DEDUP);
        List<GenericRecord> sent = new ArrayList<>();
        String[] channels = {"POS", "ECOM", "ATM"};
        OperatorSubtaskState snapshot = null;
        int checkpoint = 0;
        long now = 0;
        long resends = 0;
        for (int round = 0; round < 6; round++) {
            try (Harness h = harness(frontKeys, writeDelay, backend(backend)).open(snapshot)) {
                boolean busy = round % 2 == 1;
                int events = busy ? 300 + random.nextInt(200) : 50 + random.nextInt(150);
                for (int i = 0; i < events; i++) {
                    // Arrival time moves on by up to 20 min (re-sends fall in and out of the
                    // dedup window) or, in busy rounds, by up to 2 s over two keys (more ids
                    // inside one window than a key's state keeps inline).
                    now += random.nextInt(busy ? 2_000 : 20 * 60_000);
                    GenericRecord t;
                    if (!sent.isEmpty() && random.nextInt(5) == 0) {
                        t = sent.get(sent.size() - 1 - random.nextInt(Math.min(300, sent.size())));
                        resends++;
                    } else {
                        t =
                                txn(
                                        "t" + sent.size(),
                                        "card-" + random.nextInt(busy ? 2 : 6),
                                        T0.plus(
                                                Duration.ofSeconds(
                                                        37L * sent.size() + random.nextInt(60))),
                                        100 + random.nextInt(9_000),
                                        random.nextBoolean() ? "DE" : "FR",
                                        channels[random.nextInt(3)]);
                        sent.add(t);
                    }
                    h.send(now, event(t, sent.size()));
                    float[] expected = reference.features(t, now);
                    assertThat(h.last())
                            .as("event %d of round %d", i, round)
                            .containsExactly(expected);
                }
                checkpoint++;
                snapshot = h.snapshot(checkpoint);
            }
        }
        assertThat(resends).isGreaterThan(100);
    }

    // --- re-sends -----------------------------------------------------------------------------

    @Test
    void aResentEventGetsItsFirstRowAndIsCountedOnce() throws Exception {
        try (Harness h = harness().open(null)) {
            h.send(0, event(txn("a", 0, "DE"), 0));
            h.send(1, event(txn("b", 5, "DE"), 1));
            h.send(2, event(txn("a", 0, "DE"), 2)); // re-sent by an at-least-once producer
            h.send(3, event(txn("c", 10, "DE"), 3));

            List<PipelineEvent> out = h.out();
            assertThat(out).hasSize(4);
            assertThat(out.get(2).features).containsExactly(out.get(0).features);
            assertThat(out.get(2).sourceOffset).isEqualTo(2);
            // c sees a and b once each: the re-send changed nothing.
            assertThat(out.get(3).features[index("txn_count_1h")]).isEqualTo(2f);
            assertThat(out.get(3).features[index("history_count_log")])
                    .isEqualTo((float) Math.log1p(2));
            assertThat(h.count(PipelineFeatureEnricher.DUPLICATES_RESENT)).isEqualTo(1);
            // The offline features treat the re-send the same way (in event-time order).
            Map<String, float[]> rows = new HashMap<>();
            for (OfflineFeatures.Row row :
                    OfflineFeatures.compute(
                            CARD_FRAUD,
                            List.of(
                                    txn("a", 0, "DE"),
                                    txn("b", 5, "DE"),
                                    txn("a", 0, "DE"),
                                    txn("c", 10, "DE")))) {
                if (row.resent()) {
                    assertThat(row.features()).containsExactly(rows.get(row.id()));
                }
                rows.putIfAbsent(row.id(), row.features());
            }
            for (PipelineEvent e : out) {
                assertThat(e.features).as(e.id).containsExactly(rows.get(e.id));
            }
        }
    }

    @Test
    void aResendIsRecognisedWithinTheDedupWindowOfArrivalWhateverItsEventTime() throws Exception {
        try (Harness h = harness().open(null)) {
            h.send(0, event(txn("a", 0, "DE"), 0));
            h.send(0, event(txn("b", 600, "DE"), 1)); // ten hours later in event time
            // Arrived 59 min after the first: a re-send.
            h.send(Duration.ofMinutes(59).toMillis(), event(txn("a", 0, "DE"), 2));
            // 61 min after: forgotten, counted as new.
            h.send(Duration.ofMinutes(61).toMillis(), event(txn("a", 0, "DE"), 3));

            List<PipelineEvent> out = h.out();
            assertThat(out.get(2).features).containsExactly(out.get(0).features);
            // As of its event time the key has seen the first a (b is ten hours later): a first
            // row would say none.
            assertThat(out.get(0).features[index("history_count_log")]).isZero();
            assertThat(out.get(3).features[index("history_count_log")])
                    .isEqualTo((float) Math.log1p(1));
            assertThat(h.count(PipelineFeatureEnricher.DUPLICATES_RESENT)).isEqualTo(1);
        }
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"rocksdb", "hashmap"})
    void aBusyKeysResendsAreRecognisedBeyondTheIdsItsStateKeepsAcrossARestore(String backend)
            throws Exception {
        int n = 3 * KeyState.MAX_SEEN;
        List<float[]> first = new ArrayList<>();
        OperatorSubtaskState snapshot;
        try (Harness h = harness(1000, Duration.ofSeconds(1), backend(backend)).open(null)) {
            for (int i = 0; i < n; i++) {
                h.send(i * 1_000L, event(txn("t" + i, i, "DE"), i));
            }
            h.out().forEach(e -> first.add(e.features));
            assertThat(h.count(PipelineFeatureEnricher.DEDUP_SPILLS))
                    .isEqualTo(n - KeyState.MAX_SEEN);
            snapshot = h.snapshot(1);
        }
        try (Harness h = harness(1000, Duration.ofSeconds(1), backend(backend)).open(snapshot)) {
            h.h.setProcessingTime(n * 1_000L);
            h.h.setStateTtlProcessingTime(n * 1_000L);
            for (int i = 0; i < n; i++) {
                h.send(event(txn("t" + i, i, "DE"), n + i)); // all re-sent, oldest first
            }
            h.send(event(txn("new", n, "DE"), 2 * n));
            List<PipelineEvent> out = h.out();
            for (int i = 0; i < n; i++) {
                assertThat(out.get(i).features).as("re-sent t%d", i).containsExactly(first.get(i));
            }
            assertThat(h.count(PipelineFeatureEnricher.DUPLICATES_RESENT)).isEqualTo(n);
            assertThat(out.get(n).features[index("history_count_log")])
                    .isEqualTo((float) Math.log1p(n));
            // An hour after the oldest arrived, it is forgotten: counted as new (as of its event
            // time, the key has seen only its first send before it).
            h.send(Duration.ofHours(1).toMillis() + 500, event(txn("t0", 0, "DE"), 3 * n));
            assertThat(h.last()).isNotEqualTo(first.get(0));
            assertThat(h.last()[index("history_count_log")]).isEqualTo((float) Math.log1p(1));
            assertThat(h.count(PipelineFeatureEnricher.DUPLICATES_RESENT)).isEqualTo(n);
        }
    }

    @Test
    void aZeroDedupWindowCountsEveryResend() throws Exception {
        try (Harness h =
                harness(
                                CARD_FRAUD,
                                TTL,
                                Duration.ZERO,
                                1000,
                                Duration.ofSeconds(1),
                                new EmbeddedRocksDBStateBackend())
                        .open(null)) {
            h.send(0, event(txn("a", 0, "DE"), 0));
            h.send(1, event(txn("a", 0, "DE"), 1));
            assertThat(h.last()[index("history_count_log")]).isEqualTo((float) Math.log1p(1));
            assertThat(h.count(PipelineFeatureEnricher.DUPLICATES_RESENT)).isZero();
        }
    }

    // --- the front and its writes -------------------------------------------------------------

    @Test
    void aKeyInTheFrontIsAHitAndAnyOtherAMiss() throws Exception {
        try (Harness h =
                harness(2, Duration.ofSeconds(1), new EmbeddedRocksDBStateBackend()).open(null)) {
            h.send(0, event(txn("a1", "a", T0, 100, "DE", "POS"), 0)); // miss
            h.send(1, event(txn("a2", "a", T0.plusSeconds(1), 100, "DE", "POS"), 1)); // hit
            h.send(2, event(txn("b1", "b", T0, 100, "DE", "POS"), 2)); // miss
            h.send(3, event(txn("c1", "c", T0, 100, "DE", "POS"), 3)); // miss; a leaves
            h.send(4, event(txn("a3", "a", T0.plusSeconds(2), 100, "DE", "POS"), 4)); // miss
            h.send(5, event(txn("c2", "c", T0.plusSeconds(1), 100, "DE", "POS"), 5)); // hit
            h.send(6, event(txn("a2", "a", T0.plusSeconds(1), 100, "DE", "POS"), 6)); // hit
            assertThat(h.count(PipelineFeatureEnricher.FRONT_HITS)).isEqualTo(3);
            assertThat(h.count(PipelineFeatureEnricher.FRONT_MISSES)).isEqualTo(4);
            assertThat(h.last()).containsExactly(h.out().get(1).features);
        }
        try (Harness h =
                harness(0, Duration.ofSeconds(1), new EmbeddedRocksDBStateBackend()).open(null)) {
            for (int i = 0; i < 5; i++) {
                h.send(i, event(txn("a" + i, "a", T0.plusSeconds(i), 100, "DE", "POS"), i));
            }
            assertThat(h.count(PipelineFeatureEnricher.FRONT_HITS)).isZero();
            assertThat(h.count(PipelineFeatureEnricher.FRONT_MISSES)).isEqualTo(5);
            assertThat(h.count(PipelineFeatureEnricher.STATE_WRITES)).isEqualTo(5);
            assertThat(h.receivedInState("a")).containsExactly(5L);
        }
    }

    private static int sentCount;

    /** An event of key {@code key} at arrival time {@code now}. */
    private static void send(Harness h, long now, String key) throws Exception {
        String id = "w" + sentCount++;
        h.send(now, event(txn(id, key, T0.plusSeconds(now / 1000), 2_500, "DE", "POS"), now));
    }

    /**
     * What the state backend holds, against the front: a key seen for the first time in a while is
     * written at once; a key seen again within the write delay waits until that long after its
     * first unwritten change (its changes meanwhile cost no write), so a checkpoint's synchronous
     * phase has only those left to write.
     */
    @Test
    void aBusyKeyIsWrittenTheWriteDelayAfterItsFirstUnwrittenChangeAnyOtherAtOnce()
            throws Exception {
        try (Harness h =
                harness(1000, Duration.ofSeconds(1), new EmbeddedRocksDBStateBackend())
                        .open(null)) {
            send(h, 0, "a");
            assertThat(h.receivedInState("a", "b", "c")).containsExactly(1L, 0L, 0L);
            send(h, 300, "a"); // seen 300 ms ago: busy, waits until 1 300
            send(h, 600, "a");
            assertThat(h.receivedInState("a", "b", "c")).containsExactly(1L, 0L, 0L);
            send(h, 900, "b");
            send(h, 1_299, "b"); // busy, waits until 2 299
            assertThat(h.receivedInState("a", "b", "c")).containsExactly(1L, 1L, 0L);
            send(h, 1_300, "c");
            assertThat(h.receivedInState("a", "b", "c")).containsExactly(3L, 1L, 1L);
            send(h, 5_000, "a"); // not seen for 3.7 s: at once
            assertThat(h.receivedInState("a", "b", "c")).containsExactly(4L, 2L, 1L);
            send(h, 5_100, "c"); // seen 3.8 s ago: at once
            send(h, 5_200, "c"); // busy
            assertThat(h.receivedInState("a", "b", "c")).containsExactly(4L, 2L, 2L);
            assertThat(h.count(PipelineFeatureEnricher.STATE_WRITES)).isEqualTo(7);
            h.snapshot(1);
            assertThat(h.receivedInState("a", "b", "c")).containsExactly(4L, 2L, 3L);
            assertThat(h.count(PipelineFeatureEnricher.STATE_WRITES)).isEqualTo(8);
            assertThat(h.count(PipelineFeatureEnricher.FLUSHES)).isEqualTo(1);
        }
    }

    @Test
    void aClockThatStepsBackMakesEveryWaitingKeyDue() throws Exception {
        try (Harness h =
                harness(1000, Duration.ofSeconds(1), new EmbeddedRocksDBStateBackend())
                        .open(null)) {
            send(h, 5_000, "a");
            send(h, 5_100, "a"); // busy: would wait until 6 100
            assertThat(h.receivedInState("a")).containsExactly(1L);
            send(h, 1_000, "b"); // the clock stepped back 4.1 s
            assertThat(h.receivedInState("a", "b")).containsExactly(2L, 1L);
            send(h, 1_100, "a"); // seen "in the future": not busy, written at once
            assertThat(h.receivedInState("a")).containsExactly(3L);
        }
    }

    @Test
    void aZeroWriteDelayWritesEveryChangeAtOnce() throws Exception {
        try (Harness h =
                harness(1000, Duration.ZERO, new EmbeddedRocksDBStateBackend()).open(null)) {
            for (int i = 1; i <= 5; i++) {
                send(h, i, "a");
                assertThat(h.receivedInState("a")).containsExactly((long) i);
            }
        }
    }

    @Test
    void aChangedKeyLeavingTheFrontIsWritten() throws Exception {
        try (Harness h =
                harness(1, Duration.ofSeconds(10), new EmbeddedRocksDBStateBackend()).open(null)) {
            send(h, 0, "a");
            send(h, 10, "a"); // busy: waits
            send(h, 20, "a");
            assertThat(h.receivedInState("a")).containsExactly(1L);
            send(h, 30, "b"); // a leaves the front of one key
            assertThat(h.receivedInState("a", "b")).containsExactly(3L, 1L);
        }
    }

    /**
     * A checkpoint's synchronous phase writes every key still waiting, so that the snapshot holds
     * every key exactly as processed: a new harness restored from it continues each key as if
     * nothing had stopped.
     */
    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"rocksdb", "hashmap"})
    void aCheckpointHoldsEveryKeyExactly(String backend) throws Exception {
        int keys = 25;
        Reference reference = new Reference(CARD_FRAUD, DEDUP);
        OperatorSubtaskState snapshot;
        String[] names = new String[keys];
        for (int k = 0; k < keys; k++) {
            names[k] = "card-" + k;
        }
        long now = 1_000_000;
        try (Harness h = harness(1000, Duration.ofSeconds(1), backend(backend)).open(null)) {
            for (int round = 0; round < 3; round++) {
                for (int k = 0; k < keys; k++) {
                    GenericRecord t =
                            txn(
                                    "r" + round + "k" + k,
                                    names[k],
                                    T0.plus(Duration.ofMinutes(10L * round + k)),
                                    1_000 + 100L * k + round,
                                    round == 2 && k % 2 == 0 ? "FR" : "DE",
                                    k % 3 == 0 ? "ECOM" : "POS");
                    now++;
                    h.send(now, event(t, now));
                    assertThat(h.last()).containsExactly(reference.features(t, now));
                }
            }
            // Each key written at its first event only: every later change waits (busy).
            assertThat(h.receivedInState(names)).containsOnly(1L);
            snapshot = h.snapshot(1);
            assertThat(h.receivedInState(names)).containsOnly(3L);
            assertThat(h.count(PipelineFeatureEnricher.FLUSHES)).isEqualTo(1);
        }
        try (Harness h = harness(1000, Duration.ofSeconds(1), backend(backend)).open(snapshot)) {
            assertThat(h.receivedInState(names)).containsOnly(3L);
            now += 60_000;
            for (int k = 0; k < keys; k++) {
                GenericRecord t =
                        txn(
                                "after" + k,
                                names[k],
                                T0.plus(Duration.ofMinutes(45)),
                                777,
                                "NL",
                                "ATM");
                h.send(now, event(t, k));
                float[] expected = reference.features(t, now);
                assertThat(h.last()).as(names[k]).containsExactly(expected);
                assertThat(h.last()[index("history_count_log")]).isEqualTo((float) Math.log1p(3));
            }
            // And a re-send of an event from before the checkpoint is still known.
            GenericRecord again =
                    txn("r2k0", names[0], T0.plus(Duration.ofMinutes(20)), 1_002, "FR", "ECOM");
            h.send(now, event(again, 99));
            assertThat(h.last()).containsExactly(reference.features(again, now));
            assertThat(h.count(PipelineFeatureEnricher.DUPLICATES_RESENT)).isEqualTo(1);
        }
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"rocksdb", "hashmap"})
    void stateSurvivesSnapshotAndRestore(String backend) throws Exception {
        OperatorSubtaskState snapshot;
        try (Harness h = harness(1000, Duration.ofSeconds(1), backend(backend)).open(null)) {
            h.send(0, event(txn("a", 0, "DE"), 0));
            h.send(1, event(txn("b", 10, "DE"), 10));
            snapshot = h.snapshot(1);
        }
        try (Harness h = harness(1000, Duration.ofSeconds(1), backend(backend)).open(snapshot)) {
            h.send(2, event(txn("c", 20, "FR"), 20));
            List<PipelineEvent> out = h.out();
            assertThat(out).hasSize(1);
            float[] f = out.get(0).features;
            assertThat(f[index("txn_count_1h")]).isEqualTo(2f);
            assertThat(f[index("foreign")]).isEqualTo(1f);
            assertThat(f[index("country_changed")]).isEqualTo(1f);
            assertThat(f[index("history_count_log")]).isEqualTo((float) Math.log1p(2));
            assertThat(out.get(0).sourceOffset).isEqualTo(20);
            List<OfflineFeatures.Row> rows =
                    OfflineFeatures.compute(
                            CARD_FRAUD,
                            List.of(txn("a", 0, "DE"), txn("b", 10, "DE"), txn("c", 20, "FR")));
            assertThat(f).containsExactly(rows.get(2).features());
        }
    }

    // --- TTL ----------------------------------------------------------------------------------

    /** A key unseen for the state TTL is forgotten: its next event is as its first. */
    @ParameterizedTest(name = "front of {0} keys on {1}")
    @CsvSource({"1000, rocksdb", "0, rocksdb", "1000, hashmap", "0, hashmap"})
    void aKeyUnseenForTheStateTtlIsForgotten(int frontKeys, String backend) throws Exception {
        Duration ttl = Duration.ofHours(2);
        long h1 = Duration.ofHours(1).toMillis();
        try (Harness h =
                harness(CARD_FRAUD, ttl, DEDUP, frontKeys, Duration.ofSeconds(1), backend(backend))
                        .open(null)) {
            h.send(0, event(txn("a", 0, "DE"), 0));
            float[] first = h.last();
            h.send(2 * h1 - 1, event(txn("b", 119, "DE"), 1)); // within the TTL: remembered
            assertThat(h.last()[index("history_count_log")]).isEqualTo((float) Math.log1p(1));
            // Another key keeps the operator busy meanwhile.
            h.send(3 * h1, event(txn("x", "other", T0.plusSeconds(3 * 3600), 100, "DE", "POS"), 2));
            // Two hours after b: forgotten, an event as the key's first.
            h.send(4 * h1 - 1, event(txn("c", 0, "DE"), 3));
            assertThat(h.last()).containsExactly(first);
            assertThat(h.last()[index("history_count_log")]).isZero();
            // And b's id with it: its re-send is counted as new.
            h.send(4 * h1, event(txn("b", 119, "DE"), 4));
            assertThat(h.last()[index("history_count_log")]).isEqualTo((float) Math.log1p(1));
            assertThat(h.count(PipelineFeatureEnricher.DUPLICATES_RESENT)).isZero();
        }
    }

    // --- features that cannot be computed -----------------------------------------------------

    /**
     * The card-fraud pipeline with {@code amount_log} replaced by {@code 1.0 / double(amount_minor
     * - 1234)}: infinite for an amount of 1234.
     */
    static Pipeline infiniteForAmount1234(Path dir) throws Exception {
        String yaml = CARD_FRAUD.definition().yaml();
        String feature = "  - amount_log: log1p(double(amount_minor) / 100.0)";
        assertThat(yaml).contains(feature);
        Files.writeString(
                dir.resolve("card-fraud.yaml"),
                yaml.replace(feature, "  - amount_log: 1.0 / double(amount_minor - 1234)"));
        for (String schema : List.of("Transaction.avsc", "FraudScore.avsc")) {
            try (InputStream in =
                    PipelineDefinition.class
                            .getClassLoader()
                            .getResourceAsStream("pipelines/" + schema)) {
                Files.write(dir.resolve(schema), in.readAllBytes());
            }
        }
        return Pipeline.load(dir.resolve("card-fraud.yaml").toString(), null, false);
    }

    @ParameterizedTest(name = "front of {0} keys")
    @ValueSource(ints = {1000, 0})
    void anEventWithANonFiniteFeatureIsOneValidateDeadLetterAndChangesNothing(
            int frontKeys, @TempDir Path dir) throws Exception {
        Pipeline pipeline = infiniteForAmount1234(dir);
        GenericRecord a = txn("a", "card-1", T0, 1_000, "DE", "POS");
        GenericRecord b = txn("b", "card-1", T0.plusSeconds(60), 1_234, "FR", "ECOM");
        GenericRecord c = txn("c", "card-1", T0.plusSeconds(120), 2_000, "DE", "POS");
        GenericRecord d = txn("d", "card-1", T0.plusSeconds(240), 3_000, "DE", "POS");
        List<GenericRecord> events = List.of(a, b, c, b, d);
        // In event-time order (b's second send before c); by id, the row each event got.
        Map<String, OfflineFeatures.Row> rows = new HashMap<>();
        List<String> errors = new ArrayList<>();
        for (OfflineFeatures.Row row : OfflineFeatures.compute(pipeline, events)) {
            if (row.features() != null) {
                rows.put(row.id(), row);
            } else {
                errors.add(row.id() + ": " + row.error());
            }
        }
        assertThat(errors)
                .containsExactly(
                        "b: feature amount_log is Infinity, not a finite number: 1.0 /"
                                + " double(amount_minor - 1234)",
                        "b: feature amount_log is Infinity, not a finite number: 1.0 /"
                                + " double(amount_minor - 1234)");

        try (Harness h =
                harness(
                                pipeline,
                                TTL,
                                DEDUP,
                                frontKeys,
                                Duration.ofSeconds(1),
                                new EmbeddedRocksDBStateBackend())
                        .open(null)) {
            h.send(0, event(a, 0));
            h.send(10_000, event(b, 1));
            assertThat(h.out()).hasSize(1);
            assertThat(h.deadLetters()).hasSize(1);
            assertThat(h.receivedInState("card-1")).containsExactly(1L);

            h.send(20_000, event(c, 2));
            h.send(30_000, event(b, 3)); // sent again: not remembered, so a dead letter again
            h.send(40_000, event(d, 4));

            List<PipelineEvent> out = h.out();
            assertThat(out).extracting(e -> e.id).containsExactly("a", "c", "d");
            for (PipelineEvent e : out) {
                assertThat(e.features).as(e.id).containsExactly(rows.get(e.id).features());
            }
            // c and d see a (and c) only: b counted nowhere.
            int countries = pipeline.featureNames().indexOf("distinct_countries_24h");
            int count = pipeline.featureNames().indexOf("txn_count_1h");
            int sum = pipeline.featureNames().indexOf("amount_sum_1h_log");
            assertThat(out.get(1).features[count]).isEqualTo(1f);
            assertThat(out.get(1).features[countries]).isEqualTo(1f);
            assertThat(out.get(2).features[count]).isEqualTo(2f);
            assertThat(out.get(1).features[sum]).isEqualTo((float) Math.log1p(10.0));

            List<DeadLetter> letters = h.deadLetters();
            assertThat(letters).hasSize(2);
            byte[] raw = event(b, 1).raw;
            for (int i = 0; i < 2; i++) {
                DeadLetter letter = letters.get(i);
                assertThat(letter.getStage()).isEqualTo(Stage.VALIDATE);
                assertThat(letter.getErrorClass()).isEqualTo("dev.streamscore.FeatureFailed");
                assertThat(letter.getErrorMessage())
                        .isEqualTo(
                                "feature amount_log is Infinity, not a finite number: 1.0 /"
                                        + " double(amount_minor - 1234)");
                assertThat(letter.getTransactionId()).isEqualTo("b");
                assertThat(letter.getPayloadSha256()).isEqualTo(DeadLetters.sha256(raw));
                assertThat(letter.getSourceTopic()).isEqualTo("transactions");
                assertThat(letter.getSourceOffset()).isEqualTo(1 + 2L * i);
            }
            assertThat(h.count(PipelineFeatureEnricher.FEATURE_FAILURES)).isEqualTo(2);
            assertThat(h.count(PipelineFeatureEnricher.DUPLICATES_RESENT)).isZero();
            h.snapshot(1);
            assertThat(h.receivedInState("card-1")).containsExactly(3L);
        }
    }

    // --- settings -----------------------------------------------------------------------------

    @Test
    void argumentsOutsideTheirRangeAreRefused() {
        PipelineDefinition def = CARD_FRAUD.definition();
        Duration s = Duration.ofSeconds(1);
        assertRefused(
                () -> new PipelineFeatureEnricher(null, TTL, DEDUP, 10, s, 10),
                "a pipeline must be given, found none");
        assertRefused(
                () -> new PipelineFeatureEnricher(def, null, DEDUP, 10, s, 10),
                "key state TTL must be positive, got null");
        assertRefused(
                () -> new PipelineFeatureEnricher(def, Duration.ZERO, Duration.ZERO, 10, s, 10),
                "key state TTL must be positive, got PT0S");
        assertRefused(
                () -> new PipelineFeatureEnricher(def, Duration.ofHours(-1), DEDUP, 10, s, 10),
                "key state TTL must be positive, got PT-1H");
        assertRefused(
                () -> new PipelineFeatureEnricher(def, TTL, null, 10, s, 10),
                "dedup window must be zero (off) or positive, got null");
        assertRefused(
                () -> new PipelineFeatureEnricher(def, TTL, Duration.ofMillis(-1), 10, s, 10),
                "dedup window must be zero (off) or positive, got PT-0.001S");
        assertRefused(
                () ->
                        new PipelineFeatureEnricher(
                                def, Duration.ofHours(1), Duration.ofHours(2), 10, s, 10),
                "dedup window (PT2H) must not be longer than the key state TTL (PT1H): a key's"
                        + " remembered ids expire with its state");
        assertRefused(
                () -> new PipelineFeatureEnricher(def, TTL, DEDUP, -1, s, 10),
                "key state front must be 0 (off) or more keys, got -1");
        assertRefused(
                () -> new PipelineFeatureEnricher(def, TTL, DEDUP, 10, null, 10),
                "key state write delay must be zero (write at once) or positive, got null");
        assertRefused(
                () -> new PipelineFeatureEnricher(def, TTL, DEDUP, 10, Duration.ofMillis(-1), 10),
                "key state write delay must be zero (write at once) or positive, got PT-0.001S");
        assertRefused(
                () -> new PipelineFeatureEnricher(def, TTL, DEDUP, 10, s, 0),
                "max events per key must be positive, got 0");
        // The edges that are allowed.
        new PipelineFeatureEnricher(
                def, Duration.ofHours(1), Duration.ofHours(1), 0, Duration.ZERO, 1);
        new PipelineFeatureEnricher(def, Duration.ofMillis(1), Duration.ZERO, 0, Duration.ZERO, 1);
    }

    private static void assertRefused(
            org.assertj.core.api.ThrowableAssert.ThrowingCallable build, String message) {
        assertThatThrownBy(build).isInstanceOf(IllegalArgumentException.class).hasMessage(message);
    }
}
