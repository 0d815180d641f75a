package dev.streamscore.tools.training;

import dev.streamscore.operators.features.CardFeatures;
import dev.streamscore.testkit.FeatureRows;
import dev.streamscore.testkit.generator.Difficulty;
import dev.streamscore.testkit.generator.GeneratedTransaction;
import dev.streamscore.testkit.generator.TransactionGenerator;
import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code streamscore export-training-data}: labelled feature vectors from the generator, computed
 * by the very {@link CardFeatures} code the job runs, as CSV for {@code models/training/train.py}.
 */
@Command(
        name = "export-training-data",
        mixinStandardHelpOptions = true,
        description = "Write labelled feature vectors from the transaction generator as CSV.")
public final class ExportTrainingDataCommand implements Callable<Integer> {

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
        TransactionGenerator generator =
                new TransactionGenerator(
                        TransactionGenerator.Settings.defaults(seed)
                                .withCards(cards)
                                .withFraudRate(fraudRate)
                                .withDifficulty(difficulty));
        FeatureRows rows = new FeatureRows();
        if (out.getParent() != null) {
            Files.createDirectories(out.getParent());
        }
        long frauds = 0;
        try (BufferedWriter w = Files.newBufferedWriter(out)) {
            w.write(
                    "transaction_id,card_id,event_time,fraud_pattern,label,"
                            + String.join(",", CardFeatures.NAMES));
            w.newLine();
            StringBuilder line = new StringBuilder(256);
            for (long i = 0; i < events; i++) {
                GeneratedTransaction g = generator.next();
                var txn = g.transaction();
                float[] f = rows.next(txn);
                line.setLength(0);
                line.append(txn.getTransactionId())
                        .append(',')
                        .append(txn.getCardId())
                        .append(',')
                        .append(txn.getEventTime().toEpochMilli())
                        .append(',')
                        .append(g.pattern().label())
                        .append(',')
                        .append(g.labelledFraud() ? 1 : 0);
                for (float v : f) {
                    line.append(',').append(v);
                }
                w.write(line.toString());
                w.newLine();
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
}
