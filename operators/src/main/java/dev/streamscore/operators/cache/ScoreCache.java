package dev.streamscore.operators.cache;

import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;
import org.apache.flink.api.common.state.KeyedStateStore;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.util.Preconditions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recent model scores of each key, so that a feature vector the key has already been scored for is
 * answered without a model call. Two tiers:
 *
 * <ul>
 *   <li><b>The front</b>: the subtask's {@code frontEntries} most recently used entries as objects
 *       in memory (least recently used first out), looked up first, for a hash-map lookup's cost.
 *       Not checkpointed: after a restore it fills again.
 *   <li><b>Keyed state</b> (RocksDB in the job): larger than memory, checkpointed. Entries are
 *       keyed by the vector's 64-bit hash and hold the vector itself and the model version, so a
 *       hit is always the same vector scored by the current model: after a model upgrade the old
 *       scores are simply misses and are overwritten. Entries expire {@code ttl} after they were
 *       written (processing time; cleaned up by RocksDB's compaction filter, or on full snapshots).
 * </ul>
 *
 * <p>Each tier is used only where its hits save more model time than its lookups and writes cost,
 * so the cache measures both: one vector in {@value #SAMPLE_ONE_IN} (by hash, so a repeated vector
 * is always sampled or never) always goes through both tiers; once a tier has seen {@value
 * #DECIDE_EVERY} sampled lookups, its hit rate among them (for the state: among what the front
 * missed) times the model's measured cost per row is set against the tier's measured cost per
 * access, and the tier is used for all vectors or for the sampled ones only. With both off the
 * cache stands aside but for its sample. {@link #usesFront()} and {@link #usesState()} show the
 * decisions (gauges of the batching operator); a change is logged with its numbers.
 *
 * <pre>{@code
 * // in a keyed operator's initializeState:
 * ScoreCache cache = ScoreCache.create(getKeyedStateStore(), Duration.ofMinutes(10), 10_000,
 *         () -> modelNanos / rowsScored);
 * // per element, with the element's key as the current key:
 * CachedScore hit = cache.lookup(key, RowHash.of(row), row, model.descriptor().identity());
 * if (hit == null) {
 *     float score = ...; // call the model
 *     cache.put(key, RowHash.of(row), row, model.descriptor().identity(), score);
 * }
 * }</pre>
 */
public final class ScoreCache {

    /** Name of the keyed map state; part of the savepoint format of every operator using it. */
    public static final String STATE_NAME = "score-cache";

    /** Entries per subtask kept in memory in front of the state, by default. */
    public static final int DEFAULT_FRONT_ENTRIES = 10_000;

    /**
     * One vector in this many (by hash) always goes through both tiers, to measure what each is
     * worth.
     */
    static final int SAMPLE_ONE_IN = 64;

    /** Sampled lookups per tier between two decisions. */
    static final int DECIDE_EVERY = 64;

    private static final Logger LOG = LoggerFactory.getLogger(ScoreCache.class);

    /** Entries the RocksDB compaction filter reads before it refreshes its notion of now. */
    private static final long COMPACTION_FILTER_QUERY_INTERVAL = 1000;

    private final MapState<Long, CachedScore> entries;
    private final int frontEntries;
    private final LinkedHashMap<FrontKey, Fronted> front;
    private final long ttlMillis;
    private final LongSupplier clock;
    private final DoubleSupplier modelNanosPerRow;

    private boolean usesState = true;
    private boolean usesFront = true;
    private final Tier frontTier = new Tier();
    private final Tier stateTier = new Tier();
    private long frontHits;
    private long stateHits;

    private ScoreCache(
            MapState<Long, CachedScore> entries,
            long ttlMillis,
            int frontEntries,
            LongSupplier clock,
            DoubleSupplier modelNanosPerRow) {
        this.entries = entries;
        this.ttlMillis = ttlMillis;
        this.clock = clock;
        this.frontEntries = frontEntries;
        this.front = new LinkedHashMap<>(Math.min(frontEntries, 1 << 16), 0.75f, true);
        this.modelNanosPerRow = modelNanosPerRow;
    }

    /**
     * The state's descriptor. Adding or removing TTL on existing state breaks restore, so the TTL
     * is always on: a disabled cache must not register this state at all.
     */
    public static MapStateDescriptor<Long, CachedScore> descriptor(Duration ttl) {
        Preconditions.checkArgument(
                ttl != null && ttl.toMillis() >= 1,
                "score cache TTL must be at least 1 ms, found %s",
                ttl);
        MapStateDescriptor<Long, CachedScore> descriptor =
                new MapStateDescriptor<>(
                        STATE_NAME, Types.LONG, TypeInformation.of(CachedScore.class));
        descriptor.enableTimeToLive(
                StateTtlConfig.newBuilder(ttl)
                        // A hit does not extend an entry's life: the TTL bounds how old a
                        // reused score can be, whatever the key's traffic.
                        .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
                        .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                        .cleanupFullSnapshot()
                        .cleanupInRocksdbCompactFilter(COMPACTION_FILTER_QUERY_INTERVAL)
                        .build());
        return descriptor;
    }

    /**
     * The cache in {@code store}, the keyed state of the calling operator.
     *
     * @param ttl how long an entry is reused after it was written, in either tier
     * @param frontEntries entries kept in memory per subtask; 0: none
     * @param clock processing time in milliseconds, the front's clock for {@code ttl} (the state's
     *     is its backend's)
     * @param modelNanosPerRow the model's measured cost per row, for the state tier's decision
     */
    public static ScoreCache create(
            KeyedStateStore store,
            Duration ttl,
            int frontEntries,
            LongSupplier clock,
            DoubleSupplier modelNanosPerRow) {
        Preconditions.checkArgument(
                store != null,
                "score cache needs keyed state: expected a keyed stream, found none");
        Preconditions.checkArgument(
                frontEntries >= 0,
                "score cache front must be 0 or more entries, found %s",
                frontEntries);
        return new ScoreCache(
                store.getMapState(descriptor(ttl)),
                ttl.toMillis(),
                frontEntries,
                clock,
                modelNanosPerRow);
    }

    /**
     * {@code key}'s entry (the current key) for exactly {@code features} scored by {@code modelId},
     * or {@code null} when there is none (never cached, expired, another model version, a hash
     * collision, or in no tier in use).
     */
    public CachedScore lookup(Object key, long featureHash, float[] features, String modelId)
            throws Exception {
        boolean sampled = sampled(featureHash);
        if (sampled
                && (frontTier.sampledLookups >= DECIDE_EVERY
                        || stateTier.sampledLookups >= DECIDE_EVERY)) {
            decide();
        }
        if (frontEntries > 0 && (usesFront || sampled)) {
            long start = System.nanoTime();
            Fronted e = front.get(new FrontKey(key, featureHash));
            boolean hit =
                    e != null
                            && clock.getAsLong() - e.writtenAt < ttlMillis
                            && e.score.matches(modelId, features);
            frontTier.op(System.nanoTime() - start);
            if (sampled) {
                frontTier.sampled(hit);
            }
            if (hit) {
                frontHits++;
                return e.score;
            }
        }
        if (usesState || sampled) {
            long start = System.nanoTime();
            CachedScore entry = entries.get(featureHash);
            boolean hit = entry != null && entry.matches(modelId, features);
            stateTier.op(System.nanoTime() - start);
            if (sampled) {
                stateTier.sampled(hit);
            }
            if (hit) {
                stateHits++;
                return entry;
            }
        }
        return null;
    }

    /**
     * Records {@code key}'s (the current key's) score of {@code features} under {@code modelId}.
     */
    public void put(Object key, long featureHash, float[] features, String modelId, float score)
            throws Exception {
        boolean sampled = sampled(featureHash);
        CachedScore entry = null;
        if (frontEntries > 0 && (usesFront || sampled)) {
            long start = System.nanoTime();
            entry = new CachedScore(modelId, score, features.clone());
            remember(new FrontKey(key, featureHash), entry);
            frontTier.op(System.nanoTime() - start);
        }
        if (usesState || sampled) {
            long start = System.nanoTime();
            entries.put(
                    featureHash,
                    entry != null ? entry : new CachedScore(modelId, score, features.clone()));
            stateTier.op(System.nanoTime() - start);
        }
    }

    /** Whether the state tier is used for every vector now (else for the sampled ones only). */
    public boolean usesState() {
        return usesState;
    }

    /** Whether the in-memory front is used for every vector now (else for the sampled ones). */
    public boolean usesFront() {
        return usesFront;
    }

    /** Hits answered by the front, since the start. */
    public long frontHits() {
        return frontHits;
    }

    /** Hits answered by the state, since the start. */
    public long stateHits() {
        return stateHits;
    }

    /**
     * A tier is worth it when its hits save more model time than it costs: a lookup for every
     * vector that reaches it, and a write for every one it did not hold.
     */
    private void decide() {
        double modelNanos = modelNanosPerRow.getAsDouble();
        boolean front = frontTier.pays(modelNanos);
        boolean state = stateTier.pays(modelNanos);
        if (front != usesFront || state != usesState) {
            LOG.info(
                    "Result cache: front {} (hit rate {}, {} ns per access), keyed state {} (hit"
                            + " rate {} of what the front missed, {} ns per access), for a model"
                            + " at {} ns per row",
                    front ? "on" : "off, sampled only",
                    frontTier.hitRate(),
                    frontTier.nanosPerOp(),
                    state ? "on" : "off, sampled only",
                    stateTier.hitRate(),
                    stateTier.nanosPerOp(),
                    Math.round(modelNanos));
        }
        usesFront = front;
        usesState = state;
        frontTier.reset();
        stateTier.reset();
    }

    /** What one tier costs and finds, over its sampled lookups since the last decision. */
    private static final class Tier {
        long sampledLookups;
        long sampledHits;
        long nanos;
        long ops;

        void op(long elapsed) {
            nanos += elapsed;
            ops++;
        }

        void sampled(boolean hit) {
            sampledLookups++;
            if (hit) {
                sampledHits++;
            }
        }

        double hitRate() {
            return sampledLookups == 0 ? 0 : sampledHits / (double) sampledLookups;
        }

        long nanosPerOp() {
            return ops == 0 ? 0 : nanos / ops;
        }

        /** A tier no sampled lookup reached (the front answered them all) finds nothing. */
        boolean pays(double modelNanosPerRow) {
            double h = hitRate();
            return h * modelNanosPerRow > nanosPerOp() * (2 - h);
        }

        void reset() {
            sampledLookups = 0;
            sampledHits = 0;
            nanos = 0;
            ops = 0;
        }
    }

    private void remember(FrontKey k, CachedScore entry) {
        front.put(k, new Fronted(entry, clock.getAsLong()));
        if (front.size() > frontEntries) {
            Iterator<FrontKey> eldest = front.keySet().iterator();
            eldest.next();
            eldest.remove();
        }
    }

    private static boolean sampled(long featureHash) {
        // The hash's high bits: the low ones of some hashes are weak.
        return (featureHash >>> 58) == 0;
    }

    /** A key and one of its vectors' hash. */
    private record FrontKey(Object key, long featureHash) {}

    /** A front entry and when it was written (a state hit is not copied: its age is unknown). */
    private record Fronted(CachedScore score, long writtenAt) {}
}
