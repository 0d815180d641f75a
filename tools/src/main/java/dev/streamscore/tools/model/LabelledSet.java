package dev.streamscore.tools.model;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A labelled set of feature rows, as {@code streamscore export-training-data} writes it: a header
 * {@code transaction_id,card_id,event_time,fraud_pattern,label,<feature>...}, then one row per
 * transaction with {@code label} 0 or 1.
 *
 * @param path where it was read from
 * @param features the feature names, in the file's column order
 * @param rows one float row per transaction, in {@code features} order
 * @param fraud per row, whether it is labelled fraud ({@code label} 1)
 */
public record LabelledSet(Path path, List<String> features, float[][] rows, boolean[] fraud) {

    private static final List<String> META =
            List.of("transaction_id", "card_id", "event_time", "fraud_pattern", "label");

    /** Reads the whole file; fails with the file and line on anything it cannot use. */
    public static LabelledSet read(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException(
                    path
                            + " is not a file; write a labelled set with `streamscore"
                            + " export-training-data --seed 11 --events 200000 --out "
                            + path
                            + "`");
        }
        try (BufferedReader in = Files.newBufferedReader(path)) {
            String header = in.readLine();
            if (header == null) {
                throw new IllegalArgumentException(path + " is empty");
            }
            List<String> columns = Arrays.asList(header.split(",", -1));
            if (columns.size() <= META.size() || !columns.subList(0, META.size()).equals(META)) {
                throw new IllegalArgumentException(
                        path
                                + ": expected a header starting "
                                + String.join(",", META)
                                + ",<features>, as export-training-data writes; found "
                                + abbreviate(header));
            }
            List<String> features = List.copyOf(columns.subList(META.size(), columns.size()));
            List<float[]> rows = new ArrayList<>();
            List<Boolean> labels = new ArrayList<>();
            String line;
            int lineNumber = 1;
            while ((line = in.readLine()) != null) {
                lineNumber++;
                if (line.isEmpty()) {
                    continue;
                }
                String[] cells = line.split(",", -1);
                if (cells.length != columns.size()) {
                    throw new IllegalArgumentException(
                            path
                                    + ":"
                                    + lineNumber
                                    + ": expected "
                                    + columns.size()
                                    + " columns, found "
                                    + cells.length);
                }
                boolean label;
                switch (cells[4]) {
                    case "0" -> label = false;
                    case "1" -> label = true;
                    default ->
                            throw new IllegalArgumentException(
                                    path
                                            + ":"
                                            + lineNumber
                                            + ": label must be 0 or 1, found '"
                                            + abbreviate(cells[4])
                                            + "'");
                }
                float[] row = new float[features.size()];
                for (int f = 0; f < row.length; f++) {
                    try {
                        row[f] = Float.parseFloat(cells[META.size() + f]);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException(
                                path
                                        + ":"
                                        + lineNumber
                                        + ": "
                                        + features.get(f)
                                        + " is not a number: '"
                                        + abbreviate(cells[META.size() + f])
                                        + "'");
                    }
                    if (!Float.isFinite(row[f])) {
                        throw new IllegalArgumentException(
                                path
                                        + ":"
                                        + lineNumber
                                        + ": "
                                        + features.get(f)
                                        + " is not finite");
                    }
                }
                rows.add(row);
                labels.add(label);
            }
            if (rows.isEmpty()) {
                throw new IllegalArgumentException(path + " has a header but no rows");
            }
            boolean[] fraud = new boolean[labels.size()];
            for (int i = 0; i < fraud.length; i++) {
                fraud[i] = labels.get(i);
            }
            return new LabelledSet(path, features, rows.toArray(float[][]::new), fraud);
        }
    }

    /** Frauds among the rows. */
    public int positives() {
        int n = 0;
        for (boolean f : fraud) {
            n += f ? 1 : 0;
        }
        return n;
    }

    /**
     * The rows with their columns in {@code wanted}'s order, for a model that expects those
     * features; fails naming the features this set lacks.
     */
    public float[][] rowsFor(List<String> wanted, String model) {
        int[] index = new int[wanted.size()];
        List<String> missing = new ArrayList<>();
        for (int i = 0; i < index.length; i++) {
            index[i] = features.indexOf(wanted.get(i));
            if (index[i] < 0) {
                missing.add(wanted.get(i));
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException(
                    model + " expects features " + missing + " that " + path + " does not have");
        }
        if (wanted.equals(features)) {
            return rows;
        }
        float[][] out = new float[rows.length][index.length];
        for (int r = 0; r < rows.length; r++) {
            for (int i = 0; i < index.length; i++) {
                out[r][i] = rows[r][index[i]];
            }
        }
        return out;
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }
}
