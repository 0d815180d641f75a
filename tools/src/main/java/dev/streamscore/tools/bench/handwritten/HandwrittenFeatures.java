package dev.streamscore.tools.bench.handwritten;

import dev.streamscore.jobs.FeatureStage;
import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.serde.PipelineEvent;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;

/**
 * The card-fraud job's decoding and features as they were hand-written in Java before the pipeline
 * file ({@link TransactionDecoder}, {@link CardFeatureEnricher} with {@code CardFeatures}): {@code
 * streamscore bench}'s {@code streamscore-handwritten} configuration runs the same job with this
 * stage in place of {@link FeatureStage#PIPELINE}, so the two are measured against each other in
 * one run. The rows are bit-identical on in-order events (CardFraudPipelineParityTest).
 */
public final class HandwrittenFeatures {

    private HandwrittenFeatures() {}

    public static final FeatureStage STAGE =
            (raw, config) -> {
                SingleOutputStreamOperator<SourcedTransaction> valid =
                        raw.process(
                                        new TransactionDecoder(
                                                config.maxRecordBytes(), config.maxClockSkew()))
                                .uid("decode-validate")
                                .name("decode + validate");
                SingleOutputStreamOperator<PipelineEvent> enriched =
                        valid.keyBy(t -> t.transaction.getCardId(), Types.STRING)
                                .transform(
                                        "enrich: card features (hand-written)",
                                        TypeInformation.of(PipelineEvent.class),
                                        new CardFeatureEnricher(
                                                config.stateTtl(),
                                                config.dedupWindow(),
                                                config.stateFront(),
                                                config.stateWriteDelay()))
                                .uid("features");
                return new FeatureStage.Enriched(enriched, valid.getSideOutput(DeadLetters.TAG));
            };
}
