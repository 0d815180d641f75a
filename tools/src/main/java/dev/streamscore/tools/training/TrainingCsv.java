package dev.streamscore.tools.training;

import dev.streamscore.testkit.cardfraud.CardFeatures;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The CSV that {@code models/training/train.py} reads: {@code transaction_id, card_id, event_time,
 * fraud_pattern, label}, then the features in {@link CardFeatures#NAMES} order, each float written
 * so that it parses back to the same float32.
 */
final class TrainingCsv implements AutoCloseable {

    static final String HEADER =
            "transaction_id,card_id,event_time,fraud_pattern,label,"
                    + String.join(",", CardFeatures.NAMES);

    private final BufferedWriter w;
    private final StringBuilder line = new StringBuilder(256);

    private TrainingCsv(BufferedWriter w) {
        this.w = w;
    }

    /** Creates {@code out} (and its folder) and writes the header. */
    static TrainingCsv create(Path out) throws IOException {
        if (out.getParent() != null) {
            Files.createDirectories(out.getParent());
        }
        TrainingCsv csv = new TrainingCsv(Files.newBufferedWriter(out));
        csv.w.write(HEADER);
        csv.w.newLine();
        return csv;
    }

    void row(
            String transactionId,
            String cardId,
            long eventTimeMillis,
            String pattern,
            boolean fraud,
            float[] features)
            throws IOException {
        line.setLength(0);
        line.append(transactionId)
                .append(',')
                .append(cardId)
                .append(',')
                .append(eventTimeMillis)
                .append(',')
                .append(pattern)
                .append(',')
                .append(fraud ? 1 : 0);
        for (float v : features) {
            line.append(',').append(v);
        }
        w.write(line.toString());
        w.newLine();
    }

    @Override
    public void close() throws IOException {
        w.close();
    }
}
