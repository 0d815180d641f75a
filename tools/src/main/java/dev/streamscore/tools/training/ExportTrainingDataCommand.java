package dev.streamscore.tools.training;

import dev.streamscore.jobs.KafkaConnectionCheck;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.testkit.FeatureRows;
import dev.streamscore.testkit.cardfraud.CardFeatures;
import dev.streamscore.testkit.generator.Difficulty;
import dev.streamscore.testkit.generator.GeneratedTransaction;
import dev.streamscore.testkit.generator.TransactionGenerator;
import dev.streamscore.tools.cli.JobOptions;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.flink.configuration.ConfigOption;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code streamscore export-training-data}: labelled feature vectors as CSV for {@code
 * models/training/train.py}: from the generator, computed by the very {@link CardFeatures} code the
 * job runs; or, with {@code --from-feature-log}, from what a job really served (its feature log
 * joined with the labels topic, see {@link FeatureLogExport}).
 */
@Command(
        name = "export-training-data",
        mixinStandardHelpOptions = true,
        description =
                "Write labelled feature vectors as CSV: from the transaction generator, or with"
                        + " --from-feature-log from a job's feature log and labels topics.")
public final class ExportTrainingDataCommand implements Callable<Integer> {

    /** The job options taken with --from-feature-log: where Kafka is and the two topics. */
    public static final List<ConfigOption<?>> OPTIONS =
            List.of(
                    ScoringOptions.BOOTSTRAP_SERVERS,
                    ScoringOptions.KAFKA_CONFIG,
                    ScoringOptions.FEATURE_LOG_TOPIC,
                    ScoringOptions.LABELS_TOPIC);

    @Spec CommandSpec spec;

    @Option(
            names = "--from-feature-log",
            description =
                    "Export what a job served: its --feature-log-topic joined by transaction id"
                            + " with --labels-topic (both read from their start to their end now),"
                            + " instead of generating.")
    boolean fromFeatureLog;

    @Option(
            names = "--unlabelled",
            defaultValue = "skip",
            description =
                    "With --from-feature-log, what a logged transaction without a label becomes:"
                            + " skip (left out) or genuine (label 0, for a log older than the"
                            + " label horizon). Default: ${DEFAULT-VALUE}.")
    String unlabelled;

    @Option(names = "--out", required = true, description = "CSV file to write.")
    Path out;

    @Option(
            names = "--events",
            defaultValue = "600000",
            description = "Transactions to generate. Default: ${DEFAULT-VALUE}.")
    long events;

    @Option(
            names = "--seed",
            defaultValue = "7",
            description = "Generator seed. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(
            names = "--cards",
            defaultValue = "10000",
            description = "Distinct cards. Default: ${DEFAULT-VALUE}.")
    int cards;

    @Option(
            names = "--fraud-rate",
            defaultValue = "0.005",
            description = "Share of fraud. Default: ${DEFAULT-VALUE}.")
    double fraudRate;

    @Option(
            names = "--difficulty",
            defaultValue = "realistic",
            converter = DifficultyConverter.class,
            description =
                    "How hard the fraud is to catch: realistic (quiet fraud that copies the"
                            + " card's habits, noisy labels) or easy (loud fraud, true labels)."
                            + " Default: ${DEFAULT-VALUE}.")
    Difficulty difficulty;

    /** Takes the lower-case names. */
    static final class DifficultyConverter implements CommandLine.ITypeConverter<Difficulty> {
        @Override
        public Difficulty convert(String value) {
            for (Difficulty d : Difficulty.values()) {
                if (d.label().equals(value)) {
                    return d;
                }
            }
            throw new CommandLine.TypeConversionException(
                    "expected realistic or easy, got '" + value + "'");
        }
    }

    @Override
    public Integer call() throws Exception {
        if (fromFeatureLog) {
            return fromFeatureLog();
        }
        TransactionGenerator generator =
                new TransactionGenerator(
                        TransactionGenerator.Settings.defaults(seed)
                                .withCards(cards)
                                .withFraudRate(fraudRate)
                                .withDifficulty(difficulty));
        FeatureRows rows = new FeatureRows();
        long frauds = 0;
        try (TrainingCsv csv = TrainingCsv.create(out)) {
            for (long i = 0; i < events; i++) {
                GeneratedTransaction g = generator.next();
                var txn = g.transaction();
                csv.row(
                        txn.getTransactionId(),
                        txn.getCardId(),
                        txn.getEventTime().toEpochMilli(),
                        g.pattern().label(),
                        g.labelledFraud(),
                        rows.next(txn));
                if (g.labelledFraud()) {
                    frauds++;
                }
            }
        }
        System.out.printf(
                "wrote %d rows (%d labelled fraud, %.3f%%; %s difficulty) to %s%n",
                events, frauds, 100.0 * frauds / events, difficulty.label(), out);
        return 0;
    }

    private int fromFeatureLog() throws Exception {
        FeatureLogExport.Unlabelled mode =
                switch (unlabelled) {
                    case "skip" -> FeatureLogExport.Unlabelled.SKIP;
                    case "genuine" -> FeatureLogExport.Unlabelled.GENUINE;
                    default ->
                            throw new CommandLine.ParameterException(
                                    spec.commandLine(),
                                    "--unlabelled must be skip or genuine, got '"
                                            + unlabelled
                                            + "'");
                };
        ScoringConfig config =
                ScoringConfig.from(JobOptions.toConfiguration(spec.commandLine().getParseResult()));
        if (!config.featureLog() || !config.labels()) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(),
                    "--from-feature-log needs --feature-log-topic and --labels-topic");
        }
        KafkaConnectionCheck.checkReadable(
                config,
                List.of(config.featureLogTopic(), config.labelsTopic()),
                KafkaConnectionCheck.DEFAULT_TIMEOUT);
        PrintWriter log = spec.commandLine().getOut();
        FeatureLogExport.Counts c = FeatureLogExport.export(config, mode, out, log);
        log.printf(
                "wrote %d rows (%d labelled fraud) to %s from %d feature log entries; left out:"
                        + " %d unlabelled, %d repeated, %d unreadable records, %d with another"
                        + " number of features than %d%n",
                c.written(),
                c.frauds(),
                out,
                c.entries(),
                c.unlabelled(),
                c.repeated(),
                c.unreadable(),
                c.wrongLength(),
                CardFeatures.COUNT);
        log.flush();
        return 0;
    }
}
