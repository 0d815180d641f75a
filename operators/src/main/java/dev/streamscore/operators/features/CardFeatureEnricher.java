package dev.streamscore.operators.features;

import dev.streamscore.operators.serde.SourcedTransaction;
import java.time.Duration;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Per-card feature enrichment on keyed state: keyed by card id, it keeps each card's {@link
 * CardHistory} and turns every transaction into an {@link EnrichedTransaction} with the features of
 * {@link CardFeatures}. A card unseen for {@code historyTtl} is forgotten (its state expires and
 * RocksDB compaction removes it), so state does not grow with every card ever seen.
 *
 * <pre>{@code
 * DataStream<EnrichedTransaction> enriched = valid
 *         .keyBy(t -> t.transaction.getCardId())
 *         .process(new CardFeatureEnricher(Duration.ofDays(30))).uid("card-features").name("enrich: card features");
 * }</pre>
 */
public class CardFeatureEnricher
        extends KeyedProcessFunction<String, SourcedTransaction, EnrichedTransaction> {

    private static final long serialVersionUID = 1L;

    private final Duration historyTtl;
    private transient ValueState<CardHistory> history;

    public CardFeatureEnricher(Duration historyTtl) {
        if (historyTtl == null || historyTtl.isNegative() || historyTtl.isZero()) {
            throw new IllegalArgumentException(
                    "card history TTL must be positive, got " + historyTtl);
        }
        this.historyTtl = historyTtl;
    }

    @Override
    public void open(OpenContext openContext) {
        ValueStateDescriptor<CardHistory> descriptor =
                new ValueStateDescriptor<>("card-history", TypeInformation.of(CardHistory.class));
        // Processing-time TTL (the only kind Flink has); refreshed on every write.
        descriptor.enableTimeToLive(
                StateTtlConfig.newBuilder(historyTtl)
                        .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
                        .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                        .cleanupInRocksdbCompactFilter(1000)
                        .build());
        history = getRuntimeContext().getState(descriptor);
    }

    @Override
    public void processElement(
            SourcedTransaction in, Context ctx, Collector<EnrichedTransaction> out)
            throws Exception {
        CardHistory card = history.value();
        if (card == null) {
            card = new CardHistory();
        }
        float[] features = CardFeatures.computeAndUpdate(card, in.transaction);
        history.update(card);
        out.collect(
                new EnrichedTransaction(
                        in.transaction, features, in.topic, in.partition, in.offset));
    }
}
