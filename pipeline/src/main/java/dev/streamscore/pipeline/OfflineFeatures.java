package dev.streamscore.pipeline;

import dev.streamscore.pipeline.events.DecodeException;
import dev.streamscore.pipeline.events.EventFields;
import dev.streamscore.pipeline.events.JsonEvents;
import dev.streamscore.pipeline.features.FeatureException;
import dev.streamscore.pipeline.features.KeyState;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.file.DataFileStream;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;

/**
 * A pipeline's features computed offline, from a file of events, with the same {@link
 * dev.streamscore.pipeline.features.FeatureEngine} the job runs: the training set for exactly the
 * features the stream serves. Events are taken in event-time order (equal times in file order); an
 * id seen before gets its first row again and changes nothing, as a re-send does in the job.
 *
 * <pre>{@code
 * List<OfflineFeatures.Row> rows =
 *         OfflineFeatures.compute(pipeline, OfflineFeatures.read(pipeline, Path.of("events.jsonl")));
 * }</pre>
 */
public final class OfflineFeatures {

    /** Most events kept per key by default: what the job keeps by default. */
    public static final int DEFAULT_MAX_EVENTS_PER_KEY = 1024;

    /** One event's outcome: its row, or why it has none (it would be a dead letter). */
    public record Row(
            String id, String key, long time, float[] features, String error, boolean resent) {}

    /** The earliest event time the job accepts. */
    static final long EARLIEST = java.time.Instant.parse("2000-01-01T00:00:00Z").toEpochMilli();

    /** Longest key and id the job accepts, in characters. */
    static final int MAX_ID_CHARS = 128;

    private OfflineFeatures() {}

    /**
     * What the job's decoder would say of an event's key, id and time (its upper bound on time, the
     * wall clock, is left out: files of past events are the point), or null.
     */
    private static String problem(String key, String id, Object time) {
        if (key == null || key.isBlank() || key.length() > MAX_ID_CHARS) {
            return "the key is empty or longer than " + MAX_ID_CHARS + " characters";
        }
        if (id == null || id.isBlank() || id.length() > MAX_ID_CHARS) {
            return "the id is empty or longer than " + MAX_ID_CHARS + " characters";
        }
        if (!(time instanceof Number n) || n.longValue() < EARLIEST) {
            return "the time is missing or before 2000";
        }
        return null;
    }

    /**
     * The events of a file: an Avro object container file (read into the pipeline's schema), or
     * JSON lines (one event per line, as the {@code json} format reads them). A line that does not
     * decode fails the whole read with its line number.
     */
    public static List<GenericRecord> read(Pipeline pipeline, Path file) throws IOException {
        byte[] head = new byte[4];
        try (InputStream in = Files.newInputStream(file)) {
            int n = in.readNBytes(head, 0, 4);
            if (n == 4 && head[0] == 'O' && head[1] == 'b' && head[2] == 'j' && head[3] == 1) {
                return readContainer(pipeline, file);
            }
        }
        JsonEvents json = new JsonEvents(pipeline.inputSchema());
        List<GenericRecord> events = new ArrayList<>();
        try (BufferedReader lines = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = lines.readLine()) != null) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                try {
                    events.add(json.decode(line.getBytes(StandardCharsets.UTF_8)));
                } catch (DecodeException e) {
                    throw new IOException(file + ":" + number + ": " + e.getMessage(), e);
                }
            }
        }
        return events;
    }

    private static List<GenericRecord> readContainer(Pipeline pipeline, Path file)
            throws IOException {
        List<GenericRecord> events = new ArrayList<>();
        GenericDatumReader<GenericRecord> reader = new GenericDatumReader<>();
        reader.setExpected(pipeline.inputSchema());
        try (DataFileStream<GenericRecord> in = new DataFileReader<>(file.toFile(), reader)) {
            for (GenericRecord r : in) {
                events.add(r);
            }
        }
        return events;
    }

    /** Every event's features, in event-time order (equal times in the given order). */
    public static List<Row> compute(Pipeline pipeline, List<GenericRecord> events) {
        return compute(pipeline, events, DEFAULT_MAX_EVENTS_PER_KEY);
    }

    public static List<Row> compute(
            Pipeline pipeline, List<GenericRecord> events, int maxEventsPerKey) {
        Pipeline.Compiled c = pipeline.newEngine(maxEventsPerKey);
        int timePos = pipeline.inputSchema().getField(pipeline.timeField()).pos();
        int keyPos = pipeline.inputSchema().getField(pipeline.keyField()).pos();
        int idPos = pipeline.inputSchema().getField(pipeline.idField()).pos();
        List<GenericRecord> sorted = new ArrayList<>(events);
        sorted.sort(
                Comparator.comparingLong(
                        e ->
                                e.get(timePos) == null
                                        ? Long.MIN_VALUE
                                        : ((Number) e.get(timePos)).longValue()));
        Map<String, KeyState> states = new HashMap<>();
        Map<String, float[]> firstRows = new HashMap<>();
        List<Row> rows = new ArrayList<>(sorted.size());
        for (GenericRecord e : sorted) {
            String key = EventFields.text(e.get(keyPos));
            String id = EventFields.text(e.get(idPos));
            Object t = e.get(timePos);
            String problem = problem(key, id, t);
            if (problem != null) {
                rows.add(new Row(id, key, 0, null, problem, false));
                continue;
            }
            long time = ((Number) t).longValue();
            float[] first = firstRows.get(key + "\u0000" + id);
            if (first != null) {
                rows.add(new Row(id, key, time, first, null, true));
                continue;
            }
            c.fields().load(e, c.vars());
            try {
                c.engine().check();
                KeyState state = states.computeIfAbsent(key, k -> c.engine().newState());
                float[] row = c.engine().computeAndUpdate(state, time);
                firstRows.put(key + "\u0000" + id, row);
                rows.add(new Row(id, key, time, row, null, false));
            } catch (FeatureException ex) {
                rows.add(new Row(id, key, time, null, ex.getMessage(), false));
            }
        }
        return rows;
    }
}
