package dev.streamscore.jobs;

import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.features.PipelineFeatureEnricher;
import dev.streamscore.operators.serde.EventDecoder;
import dev.streamscore.operators.serde.KafkaRecord;
import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.schemas.DeadLetter;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;

/**
 * How {@link ScoringJob} turns input records into keyed events with their feature rows: the
 * pipeline file's decoding, checks and features ({@link #PIPELINE}). {@code streamscore bench}
 * swaps in the hand-written card-fraud features the file replaced, to measure one against the other
 * in the same job.
 */
@FunctionalInterface
public interface FeatureStage {

    /** The pipeline file's: {@link EventDecoder}, then {@link PipelineFeatureEnricher}. */
    FeatureStage PIPELINE =
            (raw, config) -> {
                SingleOutputStreamOperator<PipelineEvent> valid =
                        raw.process(
                                        new EventDecoder(
                                                config.pipeline(),
                                                config.maxRecordBytes(),
                                                config.maxClockSkew()))
                                .uid("decode-validate")
                                .name("decode + validate");
                SingleOutputStreamOperator<PipelineEvent> enriched =
                        valid.keyBy(e -> e.key, Types.STRING)
                                .transform(
                                        "enrich: features",
                                        TypeInformation.of(PipelineEvent.class),
                                        new PipelineFeatureEnricher(
                                                config.pipeline(),
                                                config.stateTtl(),
                                                config.dedupWindow(),
                                                config.stateFront(),
                                                config.stateWriteDelay(),
                                                config.maxEventsPerKey()))
                                .uid("features");
                return new Enriched(
                        enriched,
                        valid.getSideOutput(DeadLetters.TAG)
                                .union(enriched.getSideOutput(DeadLetters.TAG)));
            };

    /**
     * @param raw the input topic's records
     * @return the enriched events, keyed by the pipeline's key (each subtask holds the keys the
     *     {@code keyBy} of {@code e -> e.key} gives it), and every dead letter on the way
     */
    Enriched enrich(DataStream<KafkaRecord> raw, ScoringConfig config);

    /** The enriched events and the dead letters of the stages that made them. */
    record Enriched(
            SingleOutputStreamOperator<PipelineEvent> events, DataStream<DeadLetter> deadLetters) {}
}
