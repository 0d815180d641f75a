package dev.streamscore.jobs;

import dev.streamscore.jobs.config.KafkaClientSettings;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.operators.deadletter.DeadLetterSerializationSchema;
import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.feedback.LabelDecoder;
import dev.streamscore.operators.feedback.LabelJoin;
import dev.streamscore.operators.feedback.LabelledScore;
import dev.streamscore.operators.feedback.ModelQualityFunction;
import dev.streamscore.operators.feedback.ScoreForLabel;
import dev.streamscore.operators.inference.BatchingInferenceOperator;
import dev.streamscore.operators.inference.Score;
import dev.streamscore.operators.lifecycle.ModelCommandDecoder;
import dev.streamscore.operators.lifecycle.ModelStatuses;
import dev.streamscore.operators.serde.KafkaRecord;
import dev.streamscore.operators.serde.KafkaRecordDeserializer;
import dev.streamscore.operators.serde.ScoreSerializationSchema;
import dev.streamscore.operators.serde.SingleObjectSerializationSchema;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.FeatureLogEntry;
import dev.streamscore.schemas.FraudLabel;
import dev.streamscore.schemas.ModelCommand;
import dev.streamscore.schemas.ModelQuality;
import dev.streamscore.schemas.ModelRole;
import dev.streamscore.schemas.ModelStatus;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamUtils;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

/**
 * The scoring job, built from a pipeline file: Kafka events → decode and validate → per-key
 * features (the file's aggregates and CEL features) → cached, micro-batched ONNX inference → Kafka
 * scores, with every rejected record on a dead-letter topic. The bundled card-fraud pipeline is the
 * default; {@code --pipeline F} runs any other.
 *
 * <pre>
 *  input topic ─► decode + validate ─► enrich: features ─► score: batched ONNX inference ─► scores
 *                        │                                   ▲     │  │  └──► challenger scores
 *  streamscore-control ─► decode model commands ── (broadcast) ┘     │  └─────► model status
 *                        │                                         │
 *                        └──────────────── dead letters ◄──────────┘──► dead-letter topic
 * </pre>
 *
 * <p>Submit to a cluster with {@code flink run streamscore-jobs-*-job.jar --pipeline
 * /path/to/file.yaml --bootstrap-servers kafka:9092}; every option of {@link ScoringOptions} is
 * accepted as {@code --<key> value}. The file and its schemas are read where the job is submitted
 * and travel with the job graph; the model folder must be readable at the same path on every
 * TaskManager (or be bundled). Tests build the same topology with {@link #buildTopology} and
 * bounded sources and collecting sinks.
 */
public final class ScoringJob {

    private ScoringJob() {}

    public static void main(String[] args) throws Exception {
        Configuration conf = JobArguments.parse(args);
        ScoringConfig config = ScoringConfig.from(conf);
        run(StreamExecutionEnvironment.getExecutionEnvironment(flinkSettings(conf)), config);
    }

    /**
     * Checks that Kafka answers with the job's settings ({@link KafkaConnectionCheck}), builds the
     * Kafka-to-Kafka job on {@code env} and runs it until cancelled.
     */
    public static void run(StreamExecutionEnvironment env, ScoringConfig config) throws Exception {
        KafkaConnectionCheck.check(config, KafkaConnectionCheck.DEFAULT_TIMEOUT);
        buildKafkaJob(env, config);
        env.execute("streamscore: " + Pipeline.of(config.pipeline()).name());
    }

    /**
     * {@code options} without the Kafka client properties, for the environment: what the
     * environment is given becomes the job's configuration, which Flink's REST API and web UI show,
     * and client properties may hold secrets. The job reads them from {@link ScoringConfig}.
     */
    public static Configuration flinkSettings(Configuration options) {
        Configuration settings = new Configuration();
        options.toMap()
                .forEach(
                        (key, value) -> {
                            if (!KafkaClientSettings.isClientProperty(key)) {
                                settings.setString(key, value);
                            }
                        });
        return settings;
    }

    /** Configures {@code env} and builds the job with its Kafka source and sinks, ready to run. */
    public static void buildKafkaJob(StreamExecutionEnvironment env, ScoringConfig config) {
        buildKafkaJob(env, config, ScoringStage.BATCHED_ONNX);
    }

    /** The Kafka-to-Kafka job with another scoring stage, as the benchmark's baselines use. */
    public static void buildKafkaJob(
            StreamExecutionEnvironment env, ScoringConfig config, ScoringStage scoring) {
        buildKafkaJob(env, config, FeatureStage.PIPELINE, scoring);
    }

    /**
     * The Kafka-to-Kafka job with other feature and scoring stages, as the benchmark's baselines
     * use.
     */
    public static void buildKafkaJob(
            StreamExecutionEnvironment env,
            ScoringConfig config,
            FeatureStage features,
            ScoringStage scoring) {
        configure(env, config);
        boolean control = config.modelControl() && scoring.takesModelCommands();
        SingleOutputStreamOperator<Score> operator =
                buildTopology(
                        env,
                        config,
                        kafkaSource(config),
                        control ? controlSource(config) : null,
                        scoreSink(config),
                        deadLetterSink(config),
                        features,
                        scoring);
        if (scoring.takesModelCommands()) {
            operator.getSideOutput(ModelStatuses.TAG)
                    .sinkTo(modelStatusSink(config))
                    .uid("model-status-sink")
                    .name("kafka: model status");
            operator.getSideOutput(BatchingInferenceOperator.CHALLENGER_SCORES)
                    .sinkTo(challengerScoreSink(config))
                    .uid("challenger-scores-sink")
                    .name("kafka: challenger scores");
            if (config.featureLog()) {
                operator.getSideOutput(BatchingInferenceOperator.FEATURE_LOG)
                        .sinkTo(featureLogSink(config))
                        .uid("feature-log-sink")
                        .name("kafka: feature log");
            }
        }
        if (config.labels()) {
            buildLabelQuality(
                            config,
                            operator,
                            scoring.takesModelCommands()
                                    ? operator.getSideOutput(
                                            BatchingInferenceOperator.CHALLENGER_SCORES)
                                    : null,
                            env.fromSource(
                                            labelsSource(config),
                                            WatermarkStrategy.noWatermarks(),
                                            "kafka: labels")
                                    .uid("labels-source"),
                            kafkaSink(config, "label-dead-letters", deadLetterSchema(config)))
                    .sinkTo(qualitySink(config))
                    .uid("quality-sink")
                    .name("kafka: model quality");
        }
    }

    /**
     * Live quality from delayed labels: the champion's (and challenger's) scores joined by event id
     * with the labels that arrive later ({@link LabelJoin}, state kept for the label horizon), then
     * each model version's precision, recall and PR-AUC over its most recent labelled events
     * ({@link ModelQualityFunction}). Labels that do not decode or check go to {@code
     * deadLetterSink}.
     *
     * @param challengerScores the challenger's scores, or {@code null}
     * @return the quality records (before their sink)
     */
    public static SingleOutputStreamOperator<ModelQuality> buildLabelQuality(
            ScoringConfig config,
            DataStream<Score> scores,
            DataStream<Score> challengerScores,
            DataStream<KafkaRecord> labelRecords,
            Sink<DeadLetter> deadLetterSink) {
        DataStream<ScoreForLabel> scored =
                scores.flatMap(new ScoresForLabels(ModelRole.CHAMPION))
                        .uid("champion-scores-for-labels")
                        .name("scores for labels");
        if (challengerScores != null) {
            scored =
                    scored.union(
                            challengerScores
                                    .flatMap(new ScoresForLabels(ModelRole.CHALLENGER))
                                    .uid("challenger-scores-for-labels")
                                    .name("challenger scores for labels"));
        }
        SingleOutputStreamOperator<FraudLabel> labels =
                labelRecords
                        .process(new LabelDecoder(config.maxClockSkew()))
                        .uid("decode-labels")
                        .name("decode + validate labels");
        labels.getSideOutput(DeadLetters.TAG)
                .sinkTo(deadLetterSink)
                .uid("label-dead-letter-sink")
                .name("kafka: label dead letters");
        return scored.keyBy(s -> s.transactionId, Types.STRING)
                .connect(labels.keyBy(FraudLabel::getTransactionId, Types.STRING))
                .process(
                        new LabelJoin(config.labelHorizon()),
                        TypeInformation.of(LabelledScore.class))
                .uid("label-join")
                .name("join scores and labels")
                .keyBy(LabelledScore::qualityKey, Types.STRING)
                .process(
                        new ModelQualityFunction(config.qualityWindow(), config.qualityInterval()),
                        TypeInformation.of(ModelQuality.class))
                .uid("model-quality")
                .name("model quality");
    }

    /** A champion's or challenger's scores as the label join keeps them; no fallback scores. */
    private static final class ScoresForLabels implements FlatMapFunction<Score, ScoreForLabel> {
        private static final long serialVersionUID = 1L;
        private final ModelRole role;

        ScoresForLabels(ModelRole role) {
            this.role = role;
        }

        @Override
        public void flatMap(Score score, Collector<ScoreForLabel> out) {
            ScoreForLabel s = ScoreForLabel.of(score, role);
            if (s != null) {
                out.collect(s);
            }
        }
    }

    /**
     * The labels topic, from the group's committed offsets (the earliest on a first start) and from
     * the checkpoint after a restore.
     */
    static KafkaSource<KafkaRecord> labelsSource(ScoringConfig config) {
        return KafkaSource.<KafkaRecord>builder()
                .setProperty("commit.offsets.on.checkpoint", "true")
                .setProperty("partition.discovery.interval.ms", "60000")
                .setProperties(config.kafka().consumer())
                .setBootstrapServers(config.bootstrapServers())
                .setTopics(config.labelsTopic())
                .setGroupId(config.groupId() + "-labels")
                .setStartingOffsets(
                        OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
                .setDeserializer(new KafkaRecordDeserializer())
                .setProperty("isolation.level", "read_committed")
                .build();
    }

    /** Feature log entries, keyed by event id. */
    public static KafkaSink<FeatureLogEntry> featureLogSink(ScoringConfig config) {
        return kafkaSink(
                config,
                "feature-log",
                KafkaRecordSerializationSchema.<FeatureLogEntry>builder()
                        .setTopic(config.featureLogTopic())
                        .setKeySerializationSchema(
                                e -> e.getTransactionId().getBytes(StandardCharsets.UTF_8))
                        .setValueSerializationSchema(
                                SingleObjectSerializationSchema.of(FeatureLogEntry.class))
                        .build());
    }

    /** Quality records, keyed by model name and version. */
    public static KafkaSink<ModelQuality> qualitySink(ScoringConfig config) {
        return kafkaSink(
                config,
                "model-quality",
                KafkaRecordSerializationSchema.<ModelQuality>builder()
                        .setTopic(config.qualityTopic())
                        .setKeySerializationSchema(
                                q ->
                                        (q.getModelName() + ":" + q.getModelVersion())
                                                .getBytes(StandardCharsets.UTF_8))
                        .setValueSerializationSchema(
                                SingleObjectSerializationSchema.of(ModelQuality.class))
                        .build());
    }

    /**
     * Checkpointing, parallelism and strict serialization: what the job needs from any environment.
     */
    public static void configure(StreamExecutionEnvironment env, ScoringConfig config) {
        env.setParallelism(config.parallelism());
        env.enableCheckpointing(
                config.checkpointInterval().toMillis(), CheckpointingMode.EXACTLY_ONCE);
        env.getCheckpointConfig().setCheckpointTimeout(config.checkpointTimeout().toMillis());
        // Everything between operators is Avro or a POJO; Kryo would be a silent slow path.
        Configuration strict = new Configuration();
        restartStrategy(config, strict);
        strict.set(PipelineOptions.GENERIC_TYPES, false);
        // Every operator of this job emits a new object per element and never changes it after,
        // so chained operators need not deep-copy each Avro record (measured: ~2x the ceiling's
        // throughput, BENCHMARKS.md).
        strict.set(PipelineOptions.OBJECT_REUSE, true);
        env.configure(strict);
    }

    /**
     * Bounded restarts: Flink's failure-rate strategy, so that a job that fails again and again (a
     * poison record, a broker that stays away) ends with its cause instead of restarting forever
     * (Flink's default with checkpointing, exponential delay, has no limit).
     */
    private static void restartStrategy(ScoringConfig config, Configuration conf) {
        if (config.maxFailures() == 0) {
            conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
            return;
        }
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "failure-rate");
        conf.set(
                RestartStrategyOptions.RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL,
                config.maxFailures());
        conf.set(
                RestartStrategyOptions.RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL,
                config.failureInterval());
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FAILURE_RATE_DELAY, config.restartDelay());
    }

    /**
     * The topology from raw Kafka records to scores and dead letters.
     *
     * @return the score stream (before its sink), for tests that inspect it
     */
    public static DataStream<Score> buildTopology(
            StreamExecutionEnvironment env,
            ScoringConfig config,
            Source<KafkaRecord, ?, ?> source,
            Sink<Score> scoreSink,
            Sink<DeadLetter> deadLetterSink) {
        return buildTopology(
                env, config, source, scoreSink, deadLetterSink, ScoringStage.BATCHED_ONNX);
    }

    /** The topology with another scoring stage and no control stream. */
    public static DataStream<Score> buildTopology(
            StreamExecutionEnvironment env,
            ScoringConfig config,
            Source<KafkaRecord, ?, ?> source,
            Sink<Score> scoreSink,
            Sink<DeadLetter> deadLetterSink,
            ScoringStage scoring) {
        return buildTopology(
                env,
                config,
                source,
                null,
                scoreSink,
                deadLetterSink,
                FeatureStage.PIPELINE,
                scoring);
    }

    /**
     * The topology with another scoring stage, as the benchmark's baselines use, and the source of
     * model commands ({@code null}: none, the models change only by restart).
     *
     * @return the score stream (before its sink); its side outputs hold the status records and
     *     challenger scores
     */
    public static SingleOutputStreamOperator<Score> buildTopology(
            StreamExecutionEnvironment env,
            ScoringConfig config,
            Source<KafkaRecord, ?, ?> source,
            Source<KafkaRecord, ?, ?> controlSource,
            Sink<Score> scoreSink,
            Sink<DeadLetter> deadLetterSink,
            FeatureStage features,
            ScoringStage scoring) {
        DataStream<KafkaRecord> raw =
                env.fromSource(source, WatermarkStrategy.noWatermarks(), "kafka: input")
                        .uid("input-source");

        FeatureStage.Enriched enriched = features.enrich(raw, config);

        SingleOutputStreamOperator<ModelCommand> commands = null;
        if (controlSource != null) {
            commands =
                    env.fromSource(
                                    controlSource,
                                    WatermarkStrategy.noWatermarks(),
                                    "kafka: model commands")
                            .uid("model-commands-source")
                            .setParallelism(1)
                            .process(new ModelCommandDecoder())
                            .uid("decode-model-commands")
                            .name("decode model commands")
                            .setParallelism(1);
        }

        // Features and inference share the key's partitioning: no shuffle between them.
        SingleOutputStreamOperator<Score> scores =
                scoring.score(
                        DataStreamUtils.reinterpretAsKeyedStream(
                                enriched.events(), e -> e.key, Types.STRING),
                        commands,
                        config);

        scores.sinkTo(scoreSink).uid("scores-sink").name("kafka: scores");
        DataStream<DeadLetter> deadLetters =
                enriched.deadLetters().union(scores.getSideOutput(DeadLetters.TAG));
        if (commands != null) {
            deadLetters = deadLetters.union(commands.getSideOutput(DeadLetters.TAG));
        }
        deadLetters.sinkTo(deadLetterSink).uid("dead-letter-sink").name("kafka: dead letters");
        return scores;
    }

    /**
     * The input source: the user's consumer settings over the job's defaults for partition
     * discovery and offset commits, under what the job owns (servers, topic, group, read_committed;
     * {@link KafkaClientSettings#check} refuses other values for those).
     */
    public static KafkaSource<KafkaRecord> kafkaSource(ScoringConfig config) {
        return KafkaSource.<KafkaRecord>builder()
                .setProperty("commit.offsets.on.checkpoint", "true")
                .setProperty("partition.discovery.interval.ms", "60000")
                .setProperties(config.kafka().consumer())
                .setBootstrapServers(config.bootstrapServers())
                .setTopics(config.inputTopic())
                .setGroupId(config.groupId())
                .setStartingOffsets(
                        OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
                .setDeserializer(new KafkaRecordDeserializer())
                // Never read an event an upstream exactly-once producer may still abort.
                .setProperty("isolation.level", "read_committed")
                .build();
    }

    /**
     * The control topic's source: one reader (the topic has one partition, so commands keep their
     * order), from the topic's end on a fresh start, so that a job started without state serves the
     * models of its configuration and applies the commands written from then on (replaying the
     * topic's history would score live events with every past champion in turn); from its
     * checkpoint after a restore.
     */
    public static KafkaSource<KafkaRecord> controlSource(ScoringConfig config) {
        return KafkaSource.<KafkaRecord>builder()
                .setProperty("partition.discovery.interval.ms", "60000")
                .setProperties(config.kafka().consumer())
                .setBootstrapServers(config.bootstrapServers())
                .setTopics(config.controlTopic())
                .setGroupId(config.groupId() + "-control")
                .setStartingOffsets(OffsetsInitializer.latest())
                .setDeserializer(new KafkaRecordDeserializer())
                .setProperty("isolation.level", "read_committed")
                .setProperty("commit.offsets.on.checkpoint", "false")
                .build();
    }

    public static KafkaSink<Score> scoreSink(ScoringConfig config) {
        return scoreSink(config, config.scoresTopic(), "scores");
    }

    /** The challenger's scores, with the same schema and key as the champion's. */
    public static KafkaSink<Score> challengerScoreSink(ScoringConfig config) {
        return scoreSink(config, config.challengerScoresTopic(), "challenger-scores");
    }

    /** Status records, keyed by the command they answer. */
    public static KafkaSink<ModelStatus> modelStatusSink(ScoringConfig config) {
        return kafkaSink(
                config,
                "model-status",
                KafkaRecordSerializationSchema.<ModelStatus>builder()
                        .setTopic(config.modelStatusTopic())
                        .setKeySerializationSchema(
                                s -> s.getCommandId().getBytes(StandardCharsets.UTF_8))
                        .setValueSerializationSchema(
                                SingleObjectSerializationSchema.of(ModelStatus.class))
                        .build());
    }

    /** Scores in the pipeline's output format, keyed by the pipeline's key. */
    private static KafkaSink<Score> scoreSink(ScoringConfig config, String topic, String name) {
        return kafkaSink(
                config,
                name,
                KafkaRecordSerializationSchema.<Score>builder()
                        .setTopic(topic)
                        .setKeySerializationSchema(s -> s.key.getBytes(StandardCharsets.UTF_8))
                        .setValueSerializationSchema(
                                new ScoreSerializationSchema(config.pipeline()))
                        .build());
    }

    public static KafkaSink<DeadLetter> deadLetterSink(ScoringConfig config) {
        return kafkaSink(config, "dead-letters", deadLetterSchema(config));
    }

    private static KafkaRecordSerializationSchema<DeadLetter> deadLetterSchema(
            ScoringConfig config) {
        return KafkaRecordSerializationSchema.<DeadLetter>builder()
                .setTopic(config.deadLetterTopic())
                // Cut further if still too large for the producer: never fail the sink.
                .setValueSerializationSchema(
                        DeadLetterSerializationSchema.forMaxRequestSize(maxRequestSize(config)))
                .build();
    }

    /** The producers' {@code max.request.size}: the user's, or Kafka's default of 1 MiB. */
    private static int maxRequestSize(ScoringConfig config) {
        Object size = config.kafka().producer().get("max.request.size");
        return size == null ? 1024 * 1024 : Integer.parseInt(size.toString().trim());
    }

    private static <T> KafkaSink<T> kafkaSink(
            ScoringConfig config, String name, KafkaRecordSerializationSchema<T> schema) {
        // The job's defaults, the user's producer settings over them, then what the job owns.
        Properties producer = new Properties();
        producer.setProperty("linger.ms", "5");
        // No compression: scores are small, and lz4 allocates a 64 KiB block per batch in the
        // producer (and the broker recompresses to stamp LogAppendTime); at 2 000 events/s that
        // was a quarter of the job's allocation and doubled its GC pauses (BENCHMARKS.md).
        producer.setProperty("compression.type", "none");
        producer.setProperty("acks", "all");
        // No duplicates from the producer's own retries after a broker loss, in either mode.
        producer.setProperty("enable.idempotence", "true");
        producer.putAll(config.kafka().producer());
        producer.setProperty(
                "transaction.timeout.ms", Long.toString(config.transactionTimeout().toMillis()));
        boolean exactlyOnce = config.delivery() == DeliveryGuarantee.EXACTLY_ONCE;
        var builder =
                KafkaSink.<T>builder()
                        .setKafkaProducerConfig(producer)
                        // After the producer config, which the builder copies over what is set.
                        .setBootstrapServers(config.bootstrapServers())
                        .setRecordSerializer(schema)
                        .setDeliveryGuarantee(config.delivery());
        if (exactlyOnce) {
            builder.setTransactionalIdPrefix(config.transactionalIdPrefix() + "-" + name);
        }
        return builder.build();
    }
}
