package dev.streamscore.operators.features;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.pipeline.PipelineDefinition;
import dev.streamscore.pipeline.events.AvroEvents;
import dev.streamscore.pipeline.events.EventFields;
import dev.streamscore.pipeline.features.FeatureEngine;
import dev.streamscore.pipeline.features.FeatureException;
import dev.streamscore.pipeline.features.KeyState;
import dev.streamscore.pipeline.features.KeyStateCodec;
import dev.streamscore.schemas.Stage;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * A pipeline's per-key features on keyed state: keyed by the pipeline's key field, it keeps each
 * key's {@link KeyState} and turns every event into the same event with its feature row, computed
 * by the pipeline's {@link FeatureEngine} (its aggregates and CEL features). A key unseen for
 * {@code stateTtl} is forgotten (its state expires and RocksDB compaction removes it), so state
 * does not grow with every key ever seen. An event whose features cannot be computed (an expression
 * with no value, a feature that is not finite) goes to the dead letters with stage VALIDATE and
 * changes nothing.
 *
 * <p><b>State access.</b> The state is one value per key in {@link KeyStateCodec}'s format. In
 * front of it each subtask keeps the states of its {@code frontKeys} most recently seen keys as
 * objects (least recently used first out), so a key in the front costs no state read and no
 * decoding; a key that is not costs one read. Flink's Table runtime buffers keyed updates on the
 * heap the same way in its mini-batch operators. The front is off with {@code frontKeys} 0.
 *
 * <p><b>Writes.</b> A key changed again less than {@code writeDelay} after its previous change
 * (busy) is written no earlier than {@code writeDelay} after its first unwritten change, on the
 * next event of any key, so its changes meanwhile cost no write; any other key is written at once,
 * as waiting would save nothing. A changed key is also written when it leaves the front, and every
 * one not yet written when a checkpoint or savepoint is taken ({@link #snapshotState}), so each
 * holds every key exactly as processed. That last write happens in the checkpoint's synchronous
 * phase, on the task thread: the delay bounds it to the busy keys changed within it. 0 writes every
 * change at once, and the front then saves the reads only. A processing-time clock that steps back
 * makes every waiting key due at once.
 *
 * <p><b>Re-sends.</b> The same id again, as at-least-once producers do, is not counted twice: the
 * key's state is left alone and the event gets the very feature row it got the first time, so the
 * inference operator's result cache (keyed by that row) answers it with the first score. A key
 * remembers the ids of its events that arrived less than {@code dedupWindow} ago (processing time,
 * as a producer's retries come soon after the first send, whatever their event time), at most
 * {@link KeyState#MAX_SEEN} of them in the state itself; a key busier than that within one window
 * moves its older ids to a second keyed state, a map from id to arrival time and row with the
 * window as its TTL, which only such keys read and write. A zero window turns this off.
 *
 * <pre>{@code
 * DataStream<PipelineEvent> enriched = valid
 *         .keyBy(e -> e.key, Types.STRING)
 *         .transform("enrich: features", TypeInformation.of(PipelineEvent.class),
 *                 new PipelineFeatureEnricher(pipeline.definition(), Duration.ofDays(30),
 *                         Duration.ofHours(1), 20_000, Duration.ofSeconds(1), 1024))
 *         .uid("features");
 * }</pre>
 */
public class PipelineFeatureEnricher extends AbstractStreamOperator<PipelineEvent>
        implements OneInputStreamOperator<PipelineEvent, PipelineEvent> {

    private static final long serialVersionUID = 1L;

    /** Keys per subtask whose state stays in memory by default. */
    public static final int DEFAULT_FRONT_KEYS = 20_000;

    /** Most events a key's ring keeps by default (see {@link FeatureEngine}). */
    public static final int DEFAULT_MAX_EVENTS_PER_KEY = 1024;

    /** Counter of events whose features could not be computed (dead letters, stage VALIDATE). */
    public static final String FEATURE_FAILURES = "featureFailures";

    /** Gauge: events that left a key's ring early, over max-events-per-key. */
    public static final String EVENTS_DROPPED_OVER_LIMIT = "eventsDroppedOverLimit";

    /** Gauge: events later than an event of their key that had already left the ring. */
    public static final String LATE_BEYOND_HISTORY = "lateBeyondHistory";

    /**
     * How long after its first unwritten change the front writes a key's state, by default: a
     * checkpoint's synchronous phase writes the keys changed within this time.
     */
    public static final Duration DEFAULT_WRITE_DELAY = Duration.ofSeconds(1);

    /**
     * Counter of the nanoseconds spent reading and updating key state and computing features
     * (downstream operators excluded), for the per-stage cost {@code streamscore bench} reports.
     */
    public static final String ENRICH_TIME_NANOS = "enrichTimeNanos";

    /** Name of the counter of re-sent events recognised within the dedup window. */
    public static final String DUPLICATES_RESENT = "duplicatesResent";

    /** Counter of events whose key's state was in the in-memory front. */
    public static final String FRONT_HITS = "keyStateFrontHits";

    /** Counter of events whose key's state was read from the state backend. */
    public static final String FRONT_MISSES = "keyStateFrontMisses";

    /** Counter of key states written to the state backend, at once, when due, or on a flush. */
    public static final String STATE_WRITES = "keyStateWrites";

    /**
     * Counter of event ids moved to the spill state because their key had more than {@link
     * KeyState#MAX_SEEN} inside one dedup window.
     */
    public static final String DEDUP_SPILLS = "dedupSpills";

    /** Counter of the front's write-backs when a snapshot is taken. */
    public static final String FLUSHES = "keyStateFlushes";

    /**
     * Counter of the nanoseconds those write-backs took: time in the checkpoint's synchronous
     * phase, on the task thread.
     */
    public static final String FLUSH_NANOS = "keyStateFlushNanos";

    private final PipelineDefinition definition;
    private final Duration stateTtl;
    private final long dedupWindowMillis;
    private final int frontKeys;
    private final long writeDelayMillis;
    private final int maxEventsPerKey;

    private transient ValueState<byte[]> state;
    private transient MapState<Long, Tuple2<Long, float[]>> spilled;
    private transient KeyState.Spill spill;
    private transient Front front;
    private transient KeyStateCodec codec;
    private transient FeatureEngine engine;
    private transient EventFields fields;
    private transient AvroEvents bodies;

    /** The front's changed entries that the state does not have yet, oldest change first. */
    private transient LinkedHashMap<Object, Entry> unwritten;

    private transient Counter duplicates;
    private transient Counter enrichTimeNanos;
    private transient Counter frontHits;
    private transient Counter frontMisses;
    private transient Counter stateWrites;
    private transient Counter spills;
    private transient Counter flushes;
    private transient Counter flushNanos;
    private transient Counter featureFailures;

    /**
     * @param stateTtl how long a key unseen is remembered
     * @param dedupWindow how long after an event its id is recognised again (0: off)
     * @param frontKeys keys per subtask whose state stays in memory (0: off)
     * @param writeDelay how long a busy key's changes may wait before they are written
     * @param maxEventsPerKey most events a key's ring keeps
     */
    public PipelineFeatureEnricher(
            PipelineDefinition definition,
            Duration stateTtl,
            Duration dedupWindow,
            int frontKeys,
            Duration writeDelay,
            int maxEventsPerKey) {
        if (definition == null) {
            throw new IllegalArgumentException("a pipeline must be given, found none");
        }
        if (stateTtl == null || stateTtl.isNegative() || stateTtl.isZero()) {
            throw new IllegalArgumentException("key state TTL must be positive, got " + stateTtl);
        }
        if (dedupWindow == null || dedupWindow.isNegative()) {
            throw new IllegalArgumentException(
                    "dedup window must be zero (off) or positive, got " + dedupWindow);
        }
        if (dedupWindow.compareTo(stateTtl) > 0) {
            throw new IllegalArgumentException(
                    "dedup window ("
                            + dedupWindow
                            + ") must not be longer than the key state TTL ("
                            + stateTtl
                            + "): a key's remembered ids expire with its state");
        }
        if (frontKeys < 0) {
            throw new IllegalArgumentException(
                    "key state front must be 0 (off) or more keys, got " + frontKeys);
        }
        if (writeDelay == null || writeDelay.isNegative()) {
            throw new IllegalArgumentException(
                    "key state write delay must be zero (write at once) or positive, got "
                            + writeDelay);
        }
        if (maxEventsPerKey < 1) {
            throw new IllegalArgumentException(
                    "max events per key must be positive, got " + maxEventsPerKey);
        }
        this.definition = definition;
        this.writeDelayMillis = writeDelay.toMillis();
        this.stateTtl = stateTtl;
        this.dedupWindowMillis = dedupWindow.toMillis();
        this.frontKeys = frontKeys;
        this.maxEventsPerKey = maxEventsPerKey;
    }

    @Override
    public void open() throws Exception {
        super.open();
        Pipeline pipeline = Pipeline.of(definition);
        Pipeline.Compiled compiled = pipeline.newEngine(maxEventsPerKey);
        engine = compiled.engine();
        fields = compiled.fields();
        codec = pipeline.stateCodec();
        bodies = new AvroEvents(pipeline.inputSchema());
        ValueStateDescriptor<byte[]> descriptor =
                new ValueStateDescriptor<>(
                        "key-state",
                        org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo
                                .BYTE_PRIMITIVE_ARRAY_TYPE_INFO);
        descriptor.enableTimeToLive(ttl(stateTtl));
        state = getRuntimeContext().getState(descriptor);
        if (dedupWindowMillis > 0) {
            MapStateDescriptor<Long, Tuple2<Long, float[]>> spillDescriptor =
                    new MapStateDescriptor<>(
                            "resend-spill",
                            Types.LONG,
                            Types.TUPLE(Types.LONG, Types.PRIMITIVE_ARRAY(Types.FLOAT)));
            spillDescriptor.enableTimeToLive(ttl(Duration.ofMillis(dedupWindowMillis)));
            spilled = getRuntimeContext().getMapState(spillDescriptor);
            spill =
                    (idHash, arrivedAt, features) -> {
                        spilled.put(idHash, Tuple2.of(arrivedAt, features));
                        spills.inc();
                    };
        }
        // On the heap backend too: the state is bytes there as well, so the front saves the
        // decoding.
        front = frontKeys == 0 ? null : new Front(frontKeys);
        unwritten = new LinkedHashMap<>();
        duplicates = getMetricGroup().counter(DUPLICATES_RESENT);
        enrichTimeNanos = getMetricGroup().counter(ENRICH_TIME_NANOS);
        frontHits = getMetricGroup().counter(FRONT_HITS);
        frontMisses = getMetricGroup().counter(FRONT_MISSES);
        stateWrites = getMetricGroup().counter(STATE_WRITES);
        spills = getMetricGroup().counter(DEDUP_SPILLS);
        flushes = getMetricGroup().counter(FLUSHES);
        flushNanos = getMetricGroup().counter(FLUSH_NANOS);
        featureFailures = getMetricGroup().counter(FEATURE_FAILURES);
        FeatureEngine e = engine;
        getMetricGroup().gauge(EVENTS_DROPPED_OVER_LIMIT, e::droppedOverLimit);
        getMetricGroup().gauge(LATE_BEYOND_HISTORY, e::lateBeyondHistory);
    }

    @Override
    public void processElement(StreamRecord<PipelineEvent> element) throws Exception {
        long start = System.nanoTime();
        PipelineEvent in = element.getValue();
        Object key = getCurrentKey();
        long now = getProcessingTimeService().getCurrentProcessingTime();
        Entry entry = front == null ? null : front.get(key);
        if (entry != null && now - entry.touched >= stateTtl.toMillis()) {
            entry = null; // expired in the state meanwhile: as the state would say
            front.remove(key);
            unwritten.remove(key);
        }
        KeyState keyState;
        if (entry != null) {
            frontHits.inc();
            keyState = entry.state;
        } else {
            frontMisses.inc();
            byte[] bytes = state.value();
            keyState = bytes == null ? null : codec.decode(bytes);
            if (keyState == null) {
                keyState = engine.newState();
            }
        }
        long id = KeyState.idHash(in.id);
        float[] features = dedupWindowMillis == 0 ? null : firstFeatures(keyState, id, now);
        if (features != null) {
            duplicates.inc();
            if (entry == null && front != null) {
                front.put(key, new Entry(keyState, false, now));
            }
        } else {
            if (fields.readsBinary()) {
                fields.readBinary(in.body, 0, in.body.length, engine.vars());
            } else {
                fields.load(bodies.fromBinary(in.body), engine.vars());
            }
            try {
                features = engine.computeAndUpdate(keyState, in.time);
            } catch (FeatureException e) {
                featureFailures.inc();
                output.collect(
                        DeadLetters.TAG,
                        new StreamRecord<>(
                                DeadLetters.of(
                                        in.raw,
                                        in.sourceTopic,
                                        in.sourcePartition,
                                        in.sourceOffset,
                                        Stage.VALIDATE,
                                        "dev.streamscore.FeatureFailed",
                                        e.getMessage(),
                                        in.id)));
                enrichTimeNanos.inc(System.nanoTime() - start);
                return;
            }
            if (dedupWindowMillis > 0) {
                keyState.remember(id, now, features, dedupWindowMillis, spill);
            }
            if (front == null) {
                state.update(codec.encode(keyState));
                stateWrites.inc();
            } else {
                // A key busy within the write delay waits for it, so that its next changes are
                // free; any other is written at once, as waiting would save nothing and leave one
                // more key for the checkpoint to write.
                long sincePrevious = entry == null ? -1 : now - entry.touched;
                boolean busy = sincePrevious >= 0 && sincePrevious < writeDelayMillis;
                if (entry == null) {
                    entry = new Entry(keyState, false, now);
                    front.put(key, entry);
                }
                entry.touched = now;
                if (!entry.dirty) {
                    if (busy) {
                        entry.dirty = true;
                        entry.dirtySince = now;
                        unwritten.put(key, entry);
                    } else {
                        state.update(codec.encode(keyState));
                        stateWrites.inc();
                    }
                }
            }
        }
        if (front != null) {
            if (front.size() > frontKeys) {
                evictEldest(key);
            }
            writeDueChanges(key, now);
        }
        PipelineEvent enriched = in.withFeatures(features.clone());
        enrichTimeNanos.inc(System.nanoTime() - start);
        output.collect(element.replace(enriched));
    }

    /**
     * Processing-time TTL (the only kind Flink has), refreshed on every write, expired entries
     * never returned, cleaned up by RocksDB's compaction filter.
     */
    private static StateTtlConfig ttl(Duration ttl) {
        return StateTtlConfig.newBuilder(ttl)
                .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
                .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                .cleanupInRocksdbCompactFilter(1000)
                .build();
    }

    /**
     * The vector the id hashed to {@code id} got when it first arrived within the window, or {@code
     * null}.
     */
    private float[] firstFeatures(KeyState keyState, long id, long now) throws Exception {
        float[] features = keyState.featuresOf(id, now, dedupWindowMillis);
        if (features == null && keyState.mayHaveSpilled(now, dedupWindowMillis)) {
            Tuple2<Long, float[]> first = spilled.get(id);
            if (first != null && first.f0 > now - dedupWindowMillis) {
                features = first.f1;
            }
        }
        return features;
    }

    private void evictEldest(Object currentKey) throws Exception {
        Iterator<Map.Entry<Object, Entry>> eldest = front.entrySet().iterator();
        Map.Entry<Object, Entry> e = eldest.next();
        eldest.remove();
        if (e.getValue().dirty) {
            unwritten.remove(e.getKey());
            write(e.getKey(), e.getValue());
            setCurrentKey(currentKey);
        }
    }

    /** Writes the key states first changed {@code writeDelay} or longer before {@code now}. */
    private void writeDueChanges(Object currentKey, long now) throws Exception {
        Iterator<Map.Entry<Object, Entry>> oldest = unwritten.entrySet().iterator();
        boolean wrote = false;
        while (oldest.hasNext()) {
            Map.Entry<Object, Entry> e = oldest.next();
            long waited = now - e.getValue().dirtySince;
            if (waited >= 0 && waited < writeDelayMillis) {
                break; // not due; a clock that stepped back (waited < 0) makes it due
            }
            oldest.remove();
            write(e.getKey(), e.getValue());
            wrote = true;
        }
        if (wrote) {
            setCurrentKey(currentKey);
        }
    }

    /** Writes a changed key state to the state; the current key is then {@code key}. */
    private void write(Object key, Entry entry) throws Exception {
        setCurrentKey(key);
        state.update(codec.encode(entry.state));
        entry.dirty = false;
        stateWrites.inc();
    }

    /**
     * Writes every changed key state of the front not yet written to the state (those changed
     * within {@code writeDelay}), so the snapshot holds it: Flink calls this on the task thread
     * before it snapshots the keyed state backend, for checkpoints and savepoints alike, after the
     * barrier went downstream.
     */
    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        flush();
        super.snapshotState(context);
    }

    @Override
    public void finish() throws Exception {
        flush();
        super.finish();
    }

    private void flush() throws Exception {
        if (front == null) {
            return;
        }
        long start = System.nanoTime();
        Object current = getCurrentKey();
        for (Map.Entry<Object, Entry> e : unwritten.entrySet()) {
            write(e.getKey(), e.getValue());
        }
        unwritten.clear();
        if (current != null) {
            setCurrentKey(current);
        }
        flushes.inc();
        flushNanos.inc(System.nanoTime() - start);
    }

    /** A key's state in the front, and whether the state backend has an older one. */
    private static final class Entry {
        final KeyState state;
        boolean dirty;
        long touched;

        /** When the state backend last stopped having this state (processing time), if dirty. */
        long dirtySince;

        Entry(KeyState state, boolean dirty, long touched) {
            this.state = state;
            this.dirty = dirty;
            this.touched = touched;
        }
    }

    /** Least recently used first. */
    private static final class Front extends LinkedHashMap<Object, Entry> {
        private static final long serialVersionUID = 1L;

        Front(int keys) {
            super(Math.min(keys, 1 << 16), 0.75f, true);
        }
    }
}
