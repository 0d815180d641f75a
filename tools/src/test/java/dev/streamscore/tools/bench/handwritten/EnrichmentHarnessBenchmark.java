package dev.streamscore.tools.bench.handwritten;

import dev.streamscore.operators.features.PipelineFeatureEnricher;
import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.pipeline.PipelineDefinition;
import dev.streamscore.pipeline.features.KeyState;
import dev.streamscore.pipeline.features.KeyStateCodec;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.testkit.cardfraud.CardHistory;
import dev.streamscore.testkit.generator.TransactionGenerator;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.metrics.Counter;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;

/**
 * The enrichment stage alone, file-driven against hand-written, outside a job: each enricher in
 * Flink's keyed operator harness on RocksDB (bloom filters and 4 MB write buffers, as {@code
 * deploy/flink/config.yaml}), fed the same generated card transactions with processing time
 * advancing 1 ms per 40 events, in interleaved rounds. Prints µs/event, state writes and the mean
 * encoded key state for each, to find what the file costs without Kafka, batching or the model in
 * the way. Not a test; run it from {@code tools/}:
 *
 * <pre>{@code
 * mvn -q dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt -Dmdep.includeScope=test
 * java -cp target/test-classes:target/classes:$(cat /tmp/cp.txt) \
 *     dev.streamscore.tools.bench.handwritten.EnrichmentHarnessBenchmark 200000 6
 * }</pre>
 *
 * <p>Arguments: events per round (200000), rounds (6), which to run ({@code hp}: both; {@code h} or
 * {@code p} alone, for a profiler).
 */
public final class EnrichmentHarnessBenchmark {

    private EnrichmentHarnessBenchmark() {}

    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args.length > 0 ? args[0] : "200000");
        int rounds = Integer.parseInt(args.length > 1 ? args[1] : "6");
        String which = args.length > 2 ? args[2] : "hp";
        TransactionGenerator generator =
                new TransactionGenerator(TransactionGenerator.Settings.defaults(42));
        List<SourcedTransaction> transactions = new ArrayList<>();
        List<PipelineEvent> events = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Transaction t = generator.next().transaction();
            byte[] raw = Transaction.getEncoder().encode(t).array();
            transactions.add(new SourcedTransaction(t, raw, "transactions", 0, i));
            events.add(
                    new PipelineEvent(
                            t.getCardId(),
                            t.getTransactionId(),
                            t.getEventTime().toEpochMilli(),
                            Arrays.copyOfRange(raw, 10, raw.length), // after the header
                            raw,
                            "transactions",
                            0,
                            i));
        }
        PipelineDefinition file = PipelineDefinition.read(PipelineDefinition.DEFAULT);
        if (which.equals("engine")) {
            engineAlone(file, transactions, events, rounds);
            return;
        }
        Duration ttl = Duration.ofDays(30);
        Duration dedup = Duration.ofHours(1);
        for (int r = 1; r <= rounds; r++) {
            double handwritten = Double.NaN;
            double pipeline = Double.NaN;
            if (which.contains("h")) {
                handwritten =
                        run(
                                new CardFeatureEnricher(ttl, dedup),
                                transactions,
                                s -> s.transaction.getCardId());
            }
            if (which.contains("p")) {
                pipeline =
                        run(
                                new PipelineFeatureEnricher(
                                        file,
                                        ttl,
                                        dedup,
                                        PipelineFeatureEnricher.DEFAULT_FRONT_KEYS,
                                        PipelineFeatureEnricher.DEFAULT_WRITE_DELAY,
                                        PipelineFeatureEnricher.DEFAULT_MAX_EVENTS_PER_KEY),
                                events,
                                e -> e.key);
            }
            System.out.printf(
                    "round %d: hand-written %.2f µs/event, pipeline file %.2f µs/event,"
                            + " ratio %.2f%n",
                    r, handwritten, pipeline, handwritten / pipeline);
        }
    }

    /**
     * The feature functions alone, no Flink and no state backend: each key's state kept in a map,
     * the hand-written {@code CardFeatures} on decoded transactions against the file's engine on
     * the Avro bodies (read, aggregates and features, ring update, re-send memory). CPU time of
     * this thread per event, rounds interleaved.
     */
    private static void engineAlone(
            PipelineDefinition file,
            List<SourcedTransaction> transactions,
            List<PipelineEvent> events,
            int rounds)
            throws Exception {
        java.lang.management.ThreadMXBean threads =
                java.lang.management.ManagementFactory.getThreadMXBean();
        dev.streamscore.pipeline.Pipeline pipeline = dev.streamscore.pipeline.Pipeline.of(file);
        for (int r = 1; r <= rounds; r++) {
            java.util.HashMap<String, CardHistory> cards = new java.util.HashMap<>();
            long start = threads.getCurrentThreadCpuTime();
            long now = 1_800_000_000_000L;
            int i = 0;
            for (SourcedTransaction t : transactions) {
                CardHistory h =
                        cards.computeIfAbsent(t.transaction.getCardId(), k -> new CardHistory());
                float[] row =
                        dev.streamscore.testkit.cardfraud.CardFeatures.computeAndUpdate(
                                h, t.transaction);
                h.remember(
                        CardHistory.idHash(t.transaction.getTransactionId()),
                        now + i++ / 40,
                        row,
                        3_600_000L,
                        null);
            }
            double hand = (threads.getCurrentThreadCpuTime() - start) / 1e3 / transactions.size();
            dev.streamscore.pipeline.Pipeline.Compiled c = pipeline.newEngine(1024);
            java.util.HashMap<String, KeyState> keys = new java.util.HashMap<>();
            start = threads.getCurrentThreadCpuTime();
            i = 0;
            for (PipelineEvent e : events) {
                KeyState s = keys.computeIfAbsent(e.key, k -> c.engine().newState());
                c.fields().readBinary(e.body, 0, e.body.length, c.vars());
                float[] row = c.engine().computeAndUpdate(s, e.time);
                s.remember(KeyState.idHash(e.id), now + i++ / 40, row, 3_600_000L, null);
            }
            double engine = (threads.getCurrentThreadCpuTime() - start) / 1e3 / events.size();
            System.out.printf(
                    "round %d: CardFeatures %.2f µs/event, pipeline engine %.2f µs/event CPU%n",
                    r, hand, engine);
        }
    }

    private static <T> double run(
            OneInputStreamOperator<T, PipelineEvent> enricher,
            List<T> input,
            KeySelector<T, String> key)
            throws Exception {
        var harness = new KeyedOneInputStreamOperatorTestHarness<>(enricher, key, Types.STRING);
        Configuration rocksdb = new Configuration();
        rocksdb.setString("state.backend.rocksdb.use-bloom-filter", "true");
        rocksdb.setString(
                "state.backend.rocksdb.writebuffer.size",
                System.getProperty("writebuffer", "4 mb"));
        if (System.getProperty("rocksdb.log") != null) {
            rocksdb.setString("state.backend.rocksdb.log.dir", System.getProperty("rocksdb.log"));
            rocksdb.setString("state.backend.rocksdb.log.level", "INFO_LEVEL");
        }
        harness.setStateBackend(
                new EmbeddedRocksDBStateBackend()
                        .configure(rocksdb, EnrichmentHarnessBenchmark.class.getClassLoader()));
        harness.setup();
        harness.open();
        long t0 = 1_800_000_000_000L;
        harness.setProcessingTime(t0);
        java.lang.management.ThreadMXBean threads =
                java.lang.management.ManagementFactory.getThreadMXBean();
        long start = System.nanoTime();
        long cpuStart = threads.getCurrentThreadCpuTime();
        int i = 0;
        for (T e : input) {
            if ((++i & 63) == 0) {
                harness.setProcessingTime(t0 + i / 40); // 40,000 events/s
                harness.getOutput().clear();
            }
            harness.processElement(new StreamRecord<>(e));
        }
        double micros = (System.nanoTime() - start) / 1e3 / input.size();
        double cpuMicros = (threads.getCurrentThreadCpuTime() - cpuStart) / 1e3 / input.size();
        report(enricher, input.size());
        System.out.printf(
                "  %s: %.2f µs/event wall, %.2f µs/event CPU of the task thread%n",
                enricher.getClass().getSimpleName(), micros, cpuMicros);
        harness.close();
        return micros;
    }

    /** State writes and the mean encoded size of the states in the enricher's front. */
    private static void report(Object enricher, int events) throws Exception {
        long writes = ((Counter) field(enricher, "stateWrites")).getCount();
        Map<?, ?> front = (Map<?, ?>) field(enricher, "front");
        long bytes = 0;
        for (Object entry : front.values()) {
            if (enricher instanceof PipelineFeatureEnricher) {
                KeyStateCodec codec = (KeyStateCodec) field(enricher, "codec");
                bytes += codec.encode((KeyState) field(entry, "state")).length;
            } else {
                DataOutputSerializer out = new DataOutputSerializer(1024);
                CardHistorySerializer.INSTANCE.serialize(
                        (CardHistory) field(entry, "history"), out);
                bytes += out.length();
            }
        }
        System.out.printf(
                "  %s: %d state writes (%.2f per event), %d keys, mean state %d bytes%n",
                enricher.getClass().getSimpleName(),
                writes,
                writes / (double) events,
                front.size(),
                bytes / Math.max(1, front.size()));
    }

    private static Object field(Object o, String name) throws ReflectiveOperationException {
        Field f = o.getClass().getDeclaredField(name);
        f.setAccessible(true);
        return f.get(o);
    }
}
