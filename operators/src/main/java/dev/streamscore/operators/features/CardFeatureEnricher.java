package dev.streamscore.operators.features;

import dev.streamscore.operators.serde.SourcedTransaction;
import java.time.Duration;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Per-card feature enrichment on keyed state: keyed by card id, it keeps each card's {@link
 * CardHistory} and turns every transaction into an {@link EnrichedTransaction} with the features of
 * {@link CardFeatures}. A card unseen for {@code historyTtl} is forgotten (its state expires and
 * RocksDB compaction removes it), so state does not grow with every card ever seen.
 *
 * <p>Re-sent transactions (the same {@code transaction_id} again within {@code dedupWindow}, as
 * at-least-once producers do) are not counted twice: the card's history is left alone and the
 * transaction is enriched with the very feature vector it got the first time, so the inference
 * operator's result cache (keyed by that vector) answers it with the first score. A zero window
 * turns this off.
 *
 * <pre>{@code
 * DataStream<EnrichedTransaction> enriched = valid
 *         .keyBy(t -> t.transaction.getCardId(), Types.STRING)
 *         .process(new CardFeatureEnricher(Duration.ofDays(30), Duration.ofHours(1)))
 *         .uid("card-features").name("enrich: card features");
 * }</pre>
 */
public class CardFeatureEnricher
        extends KeyedProcessFunction<String, SourcedTransaction, EnrichedTransaction> {

    private static final long serialVersionUID = 1L;

    private final Duration historyTtl;
    private final Duration dedupWindow;
    private transient ValueState<CardHistory> history;
    private transient MapState<String, float[]> recentFeatures;
    private transient Counter duplicates;
    private transient Counter enrichTimeNanos;

    /**
     * Counter of the nanoseconds spent reading and updating card state and computing features
     * (downstream operators excluded), for the per-stage cost {@code streamscore bench} reports.
     */
    public static final String ENRICH_TIME_NANOS = "enrichTimeNanos";

    /** Name of the counter of re-sent transactions recognised within the dedup window. */
    public static final String DUPLICATES_RESENT = "duplicatesResent";

    public CardFeatureEnricher(Duration historyTtl, Duration dedupWindow) {
        if (historyTtl == null || historyTtl.isNegative() || historyTtl.isZero()) {
            throw new IllegalArgumentException(
                    "card history TTL must be positive, got " + historyTtl);
        }
        if (dedupWindow == null || dedupWindow.isNegative()) {
            throw new IllegalArgumentException(
                    "dedup window must be zero (off) or positive, got " + dedupWindow);
        }
        this.historyTtl = historyTtl;
        this.dedupWindow = dedupWindow;
    }

    @Override
    public void open(OpenContext openContext) {
        ValueStateDescriptor<CardHistory> descriptor =
                new ValueStateDescriptor<>("card-history", TypeInformation.of(CardHistory.class));
        // Processing-time TTL (the only kind Flink has); refreshed on every write.
        descriptor.enableTimeToLive(ttl(historyTtl));
        history = getRuntimeContext().getState(descriptor);
        if (!dedupWindow.isZero()) {
            MapStateDescriptor<String, float[]> recent =
                    new MapStateDescriptor<>(
                            "recent-transaction-features",
                            Types.STRING,
                            PrimitiveArrayTypeInfo.FLOAT_PRIMITIVE_ARRAY_TYPE_INFO);
            recent.enableTimeToLive(ttl(dedupWindow));
            recentFeatures = getRuntimeContext().getMapState(recent);
        }
        duplicates = getRuntimeContext().getMetricGroup().counter(DUPLICATES_RESENT);
        enrichTimeNanos = getRuntimeContext().getMetricGroup().counter(ENRICH_TIME_NANOS);
    }

    private static StateTtlConfig ttl(Duration ttl) {
        return StateTtlConfig.newBuilder(ttl)
                .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
                .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                .cleanupInRocksdbCompactFilter(1000)
                .build();
    }

    @Override
    public void processElement(
            SourcedTransaction in, Context ctx, Collector<EnrichedTransaction> out)
            throws Exception {
        long start = System.nanoTime();
        String id = in.transaction.getTransactionId();
        float[] features = recentFeatures == null ? null : recentFeatures.get(id);
        if (features != null) {
            duplicates.inc();
        } else {
            CardHistory card = history.value();
            if (card == null) {
                card = new CardHistory();
            }
            features = CardFeatures.computeAndUpdate(card, in.transaction);
            history.update(card);
            if (recentFeatures != null) {
                recentFeatures.put(id, features);
            }
        }
        EnrichedTransaction enriched =
                new EnrichedTransaction(
                        in.transaction, features.clone(), in.topic, in.partition, in.offset);
        enrichTimeNanos.inc(System.nanoTime() - start);
        out.collect(enriched);
    }
}
