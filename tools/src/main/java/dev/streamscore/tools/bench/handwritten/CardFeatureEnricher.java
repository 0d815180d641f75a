package dev.streamscore.tools.bench.handwritten;

import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.testkit.cardfraud.CardFeatures;
import dev.streamscore.testkit.cardfraud.CardHistory;
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
import org.apache.flink.runtime.state.heap.HeapKeyedStateBackend;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * The hand-written card features the card-fraud pipeline file replaced, kept as {@code streamscore
 * bench}'s {@code streamscore-handwritten} baseline: the same job with this in place of the file's
 * features, to measure what the file costs. Per-card feature enrichment on keyed state: keyed by
 * card id, it keeps each card's {@link CardHistory} and turns every transaction into a {@link
 * PipelineEvent} with the features of {@link CardFeatures}. A card unseen for {@code historyTtl} is
 * forgotten (its state expires and RocksDB compaction removes it), so state does not grow with
 * every card ever seen.
 *
 * <p><b>State access.</b> The history is one value per card in {@link CardHistorySerializer}'s
 * compact format. In front of it each subtask keeps the histories of its {@code frontCards} most
 * recently seen cards as objects (least recently used first out), so a card in the front costs no
 * state read and no deserialization; a card that is not costs one read. Flink's Table runtime
 * buffers keyed updates on the heap the same way in its mini-batch operators. The front is off on
 * the heap state backend, whose state already is objects in memory, and with {@code frontCards} 0.
 *
 * <p><b>Writes.</b> A card changed again less than {@code writeDelay} after its previous change
 * (busy) is written no earlier than {@code writeDelay} after its first unwritten change, on the
 * next transaction of any card, so its changes meanwhile cost no write; any other card is written
 * at once, as waiting would save nothing. A changed card is also written when it leaves the front,
 * and every one not yet written when a checkpoint or savepoint is taken ({@link #snapshotState}),
 * so each holds every card exactly as processed. That last write happens in the checkpoint's
 * synchronous phase, on the task thread, while no transaction is processed: the delay bounds it to
 * the busy cards changed within it. 0 writes every change at once, and the front then saves the
 * reads only. A processing-time clock that steps back makes every waiting card due at once.
 *
 * <p><b>Re-sends.</b> The same {@code transaction_id} again, as at-least-once producers do, is not
 * counted twice: the card's history is left alone and the transaction is enriched with the very
 * feature vector it got the first time, so the inference operator's result cache (keyed by that
 * vector) answers it with the first score. The card remembers the ids of its transactions that
 * arrived less than {@code dedupWindow} ago (processing time, as a producer's retries and a re-sent
 * batch come soon after the first send, whatever their event time), at most {@link
 * CardHistory#MAX_SEEN} of them in the history itself; a card busier than that within one window
 * (card testing, a merchant's batch) moves its older ids to a second keyed state, a map from id to
 * arrival time and vector with the window as its TTL, which only such cards read and write. A zero
 * window turns this off.
 *
 * <pre>{@code
 * DataStream<PipelineEvent> enriched = valid
 *         .keyBy(t -> t.transaction.getCardId(), Types.STRING)
 *         .transform("enrich: card features", TypeInformation.of(PipelineEvent.class),
 *                 new CardFeatureEnricher(Duration.ofDays(30), Duration.ofHours(1), 20_000))
 *         .uid("card-features");
 * }</pre>
 */
public class CardFeatureEnricher extends AbstractStreamOperator<PipelineEvent>
        implements OneInputStreamOperator<SourcedTransaction, PipelineEvent> {

    private static final long serialVersionUID = 2L;

    /** Cards per subtask whose history stays in memory by default. */
    public static final int DEFAULT_FRONT_CARDS = 20_000;

    /**
     * How long after its first unwritten change the front writes a history, by default: a
     * checkpoint's synchronous phase writes the cards changed within this time.
     */
    public static final Duration DEFAULT_WRITE_DELAY = Duration.ofSeconds(1);

    /**
     * Counter of the nanoseconds spent reading and updating card state and computing features
     * (downstream operators excluded), for the per-stage cost {@code streamscore bench} reports.
     */
    public static final String ENRICH_TIME_NANOS = "enrichTimeNanos";

    /** Name of the counter of re-sent transactions recognised within the dedup window. */
    public static final String DUPLICATES_RESENT = "duplicatesResent";

    /** Counter of transactions whose card's history was in the in-memory front. */
    public static final String FRONT_HITS = "cardStateFrontHits";

    /** Counter of transactions whose card's history was read from the state backend. */
    public static final String FRONT_MISSES = "cardStateFrontMisses";

    /** Counter of histories written to the state backend, at once, when due, or on a flush. */
    public static final String STATE_WRITES = "cardStateWrites";

    /**
     * Counter of transaction ids moved to the spill state because their card had more than {@link
     * CardHistory#MAX_SEEN} inside one dedup window.
     */
    public static final String DEDUP_SPILLS = "dedupSpills";

    /** Counter of the front's write-backs when a snapshot is taken. */
    public static final String FLUSHES = "cardStateFlushes";

    /**
     * Counter of the nanoseconds those write-backs took: time in the checkpoint's synchronous
     * phase, on the task thread.
     */
    public static final String FLUSH_NANOS = "cardStateFlushNanos";

    private final Duration historyTtl;
    private final long dedupWindowMillis;
    private final int frontCards;
    private final long writeDelayMillis;

    private transient ValueState<CardHistory> history;
    private transient MapState<Long, Tuple2<Long, float[]>> spilled;
    private transient CardHistory.Spill spill;
    private transient Front front;

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

    public CardFeatureEnricher(Duration historyTtl, Duration dedupWindow) {
        this(historyTtl, dedupWindow, DEFAULT_FRONT_CARDS);
    }

    public CardFeatureEnricher(Duration historyTtl, Duration dedupWindow, int frontCards) {
        this(historyTtl, dedupWindow, frontCards, DEFAULT_WRITE_DELAY);
    }

    public CardFeatureEnricher(
            Duration historyTtl, Duration dedupWindow, int frontCards, Duration writeDelay) {
        if (historyTtl == null || historyTtl.isNegative() || historyTtl.isZero()) {
            throw new IllegalArgumentException(
                    "card history TTL must be positive, got " + historyTtl);
        }
        if (dedupWindow == null || dedupWindow.isNegative()) {
            throw new IllegalArgumentException(
                    "dedup window must be zero (off) or positive, got " + dedupWindow);
        }
        if (dedupWindow.compareTo(historyTtl) > 0) {
            throw new IllegalArgumentException(
                    "dedup window ("
                            + dedupWindow
                            + ") must not be longer than the card history TTL ("
                            + historyTtl
                            + "): a card's remembered ids expire with its history");
        }
        if (frontCards < 0) {
            throw new IllegalArgumentException(
                    "card state front must be 0 (off) or more cards, got " + frontCards);
        }
        if (writeDelay == null || writeDelay.isNegative()) {
            throw new IllegalArgumentException(
                    "card state write delay must be zero (write at once) or positive, got "
                            + writeDelay);
        }
        this.writeDelayMillis = writeDelay.toMillis();
        this.historyTtl = historyTtl;
        this.dedupWindowMillis = dedupWindow.toMillis();
        this.frontCards = frontCards;
    }

    @Override
    public void open() throws Exception {
        super.open();
        // The name and the value class are those of the POJO-serialized state before
        // CardHistorySerializer: a savepoint from then restores, migrated to the new format.
        ValueStateDescriptor<CardHistory> descriptor =
                new ValueStateDescriptor<>("card-history", CardHistorySerializer.INSTANCE);
        descriptor.enableTimeToLive(ttl(historyTtl));
        history = getRuntimeContext().getState(descriptor);
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
        boolean heap = getKeyedStateBackend() instanceof HeapKeyedStateBackend;
        front = frontCards == 0 || heap ? null : new Front(frontCards);
        unwritten = new LinkedHashMap<>();
        duplicates = getMetricGroup().counter(DUPLICATES_RESENT);
        enrichTimeNanos = getMetricGroup().counter(ENRICH_TIME_NANOS);
        frontHits = getMetricGroup().counter(FRONT_HITS);
        frontMisses = getMetricGroup().counter(FRONT_MISSES);
        stateWrites = getMetricGroup().counter(STATE_WRITES);
        spills = getMetricGroup().counter(DEDUP_SPILLS);
        flushes = getMetricGroup().counter(FLUSHES);
        flushNanos = getMetricGroup().counter(FLUSH_NANOS);
    }

    @Override
    public void processElement(StreamRecord<SourcedTransaction> element) throws Exception {
        long start = System.nanoTime();
        SourcedTransaction in = element.getValue();
        Object key = getCurrentKey();
        long now = getProcessingTimeService().getCurrentProcessingTime();
        Entry entry = front == null ? null : front.get(key);
        if (entry != null && now - entry.touched >= historyTtl.toMillis()) {
            entry = null; // expired in the state meanwhile: as the state would say
            front.remove(key);
            unwritten.remove(key);
        }
        CardHistory card;
        if (entry != null) {
            frontHits.inc();
            card = entry.history;
        } else {
            frontMisses.inc();
            card = history.value();
            if (card == null) {
                card = new CardHistory();
            }
        }
        long id = CardHistory.idHash(in.transaction.getTransactionId());
        float[] features = dedupWindowMillis == 0 ? null : firstFeatures(card, id, now);
        if (features != null) {
            duplicates.inc();
            if (entry == null && front != null) {
                front.put(key, new Entry(card, false, now));
            }
        } else {
            features = CardFeatures.computeAndUpdate(card, in.transaction);
            if (dedupWindowMillis > 0) {
                card.remember(id, now, features, dedupWindowMillis, spill);
            }
            if (front == null) {
                history.update(card);
                stateWrites.inc();
            } else {
                // A card busy within the write delay waits for it, so that its next changes are
                // free; any other is written at once, as waiting would save nothing and leave one
                // more card for the checkpoint to write.
                long sincePrevious = entry == null ? -1 : now - entry.touched;
                boolean busy = sincePrevious >= 0 && sincePrevious < writeDelayMillis;
                if (entry == null) {
                    entry = new Entry(card, false, now);
                    front.put(key, entry);
                }
                entry.touched = now;
                if (!entry.dirty) {
                    if (busy) {
                        entry.dirty = true;
                        entry.dirtySince = now;
                        unwritten.put(key, entry);
                    } else {
                        history.update(card);
                        stateWrites.inc();
                    }
                }
            }
        }
        if (front != null) {
            if (front.size() > frontCards) {
                evictEldest(key);
            }
            writeDueChanges(key, now);
        }
        // The event as the pipeline's operators take it: the body after the single-object
        // header, as EventDecoder keeps it when the writer schema is the reader's.
        byte[] raw = in.raw;
        PipelineEvent enriched =
                new PipelineEvent(
                                in.transaction.getCardId(),
                                in.transaction.getTransactionId(),
                                in.transaction.getEventTime().toEpochMilli(),
                                java.util.Arrays.copyOfRange(
                                        raw, Math.min(10, raw.length), raw.length),
                                raw,
                                in.topic,
                                in.partition,
                                in.offset)
                        .withFeatures(features.clone());
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
    private float[] firstFeatures(CardHistory card, long id, long now) throws Exception {
        float[] features = card.featuresOf(id, now, dedupWindowMillis);
        if (features == null && card.mayHaveSpilled(now, dedupWindowMillis)) {
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

    /** Writes the histories first changed {@code writeDelay} or longer before {@code now}. */
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

    /** Writes a changed history to the state; the current key is then {@code key}. */
    private void write(Object key, Entry entry) throws Exception {
        setCurrentKey(key);
        history.update(entry.history);
        entry.dirty = false;
        stateWrites.inc();
    }

    /**
     * Writes every changed history of the front not yet written to the state (those changed within
     * {@code writeDelay}), so the snapshot holds it: Flink calls this on the task thread before it
     * snapshots the keyed state backend, for checkpoints and savepoints alike, after the barrier
     * went downstream.
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

    /** A card's history in the front, and whether the state has an older one. */
    private static final class Entry {
        final CardHistory history;
        boolean dirty;
        long touched;

        /** When the state last stopped having this history (processing time), if dirty. */
        long dirtySince;

        Entry(CardHistory history, boolean dirty, long touched) {
            this.history = history;
            this.dirty = dirty;
            this.touched = touched;
        }
    }

    /** Least recently used first. */
    private static final class Front extends LinkedHashMap<Object, Entry> {
        private static final long serialVersionUID = 1L;

        Front(int cards) {
            super(Math.min(cards, 1 << 16), 0.75f, true);
        }
    }
}
