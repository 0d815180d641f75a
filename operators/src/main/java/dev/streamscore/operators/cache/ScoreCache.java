package dev.streamscore.operators.cache;

import java.time.Duration;
import org.apache.flink.api.common.state.KeyedStateStore;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.util.Preconditions;

/**
 * Recent model scores of one card, kept in keyed state so that a feature vector the card has
 * already been scored for is answered without a model call.
 *
 * <p>Entries are keyed by the vector's 64-bit hash and hold the vector itself and the model
 * version, so a hit is always the same vector scored by the current model: after a model upgrade
 * the old scores are simply misses and are overwritten. Entries expire {@code ttl} after they were
 * written (processing time; cleaned up by RocksDB's compaction filter, or on full snapshots).
 *
 * <pre>{@code
 * // in a keyed operator's initializeState:
 * ScoreCache cache = ScoreCache.create(getKeyedStateStore(), Duration.ofMinutes(10));
 * // per element, with the element's key as the current key:
 * CachedScore hit = cache.lookup(RowHash.of(row), row, model.descriptor().identity());
 * if (hit == null) {
 *     float score = ...; // call the model
 *     cache.put(RowHash.of(row), row, model.descriptor().identity(), score);
 * }
 * }</pre>
 */
public final class ScoreCache {

    /** Name of the keyed map state; part of the savepoint format of every operator using it. */
    public static final String STATE_NAME = "score-cache";

    /** Entries the RocksDB compaction filter reads before it refreshes its notion of now. */
    private static final long COMPACTION_FILTER_QUERY_INTERVAL = 1000;

    private final MapState<Long, CachedScore> entries;

    private ScoreCache(MapState<Long, CachedScore> entries) {
        this.entries = entries;
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
                        // reused score can be, whatever the card's traffic.
                        .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
                        .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                        .cleanupFullSnapshot()
                        .cleanupInRocksdbCompactFilter(COMPACTION_FILTER_QUERY_INTERVAL)
                        .build());
        return descriptor;
    }

    /** The cache in {@code store}, the keyed state of the calling operator. */
    public static ScoreCache create(KeyedStateStore store, Duration ttl) {
        Preconditions.checkArgument(
                store != null,
                "score cache needs keyed state: expected a keyed stream, found none");
        return new ScoreCache(store.getMapState(descriptor(ttl)));
    }

    /**
     * The current key's entry for exactly {@code features} scored by {@code modelId}, or {@code
     * null} when there is none (never cached, expired, another model version, or a hash collision).
     */
    public CachedScore lookup(long featureHash, float[] features, String modelId) throws Exception {
        CachedScore entry = entries.get(featureHash);
        return entry != null && entry.matches(modelId, features) ? entry : null;
    }

    /** Records the current key's score of {@code features} under {@code modelId}. */
    public void put(long featureHash, float[] features, String modelId, float score)
            throws Exception {
        entries.put(featureHash, new CachedScore(modelId, score, features));
    }
}
