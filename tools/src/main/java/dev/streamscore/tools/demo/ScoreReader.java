package dev.streamscore.tools.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.pipeline.events.AvroEvents;
import dev.streamscore.pipeline.events.DecodeException;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.generic.GenericRecord;

/**
 * Reads a pipeline's score records as any consumer of its output topic would: with the output
 * schema (Avro single-object encoding) or as JSON, fields by name. Not thread-safe.
 */
public final class ScoreReader {

    /** One reason of a flagged score. */
    public record ReadReason(String feature, double value, double contribution) {}

    /** What the demo shows of one score. */
    public record ReadScore(
            String id, double score, String decision, boolean cacheHit, List<ReadReason> reasons) {
        public boolean flagged() {
            return !"APPROVE".equals(decision);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Pipeline.Format format;
    private final AvroEvents avro;
    private final String idField;

    public ScoreReader(Pipeline pipeline) {
        this.format = pipeline.outputFormat();
        this.avro = new AvroEvents(pipeline.outputSchema());
        this.idField = pipeline.idField();
    }

    public ReadScore read(byte[] bytes) throws DecodeException {
        if (format == Pipeline.Format.JSON) {
            try {
                JsonNode n = JSON.readTree(bytes);
                List<ReadReason> reasons = new ArrayList<>();
                for (JsonNode r : n.path("reasons")) {
                    reasons.add(
                            new ReadReason(
                                    r.path("feature").asText(),
                                    r.path("value").asDouble(),
                                    r.path("contribution").asDouble()));
                }
                return new ReadScore(
                        n.path(idField).asText(),
                        n.path("score").asDouble(),
                        n.path("decision").asText(),
                        n.path("cache_hit").asBoolean(),
                        reasons);
            } catch (java.io.IOException | RuntimeException e) {
                throw new DecodeException("not a JSON score: " + e.getMessage(), e);
            }
        }
        GenericRecord r = avro.decodeMessage(bytes);
        List<ReadReason> reasons = new ArrayList<>();
        Object list = field(r, "reasons");
        if (list instanceof List<?> items) {
            for (Object item : items) {
                GenericRecord reason = (GenericRecord) item;
                reasons.add(
                        new ReadReason(
                                String.valueOf(reason.get("feature")),
                                ((Number) reason.get("value")).doubleValue(),
                                ((Number) reason.get("contribution")).doubleValue()));
            }
        }
        Object score = field(r, "score");
        Object cacheHit = field(r, "cache_hit");
        return new ReadScore(
                String.valueOf(field(r, idField)),
                score instanceof Number n ? n.doubleValue() : Double.NaN,
                String.valueOf(field(r, "decision")),
                Boolean.TRUE.equals(cacheHit),
                reasons);
    }

    private static Object field(GenericRecord r, String name) {
        return r.getSchema().getField(name) == null ? null : r.get(name);
    }
}
