package dev.streamscore.models;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * What a model artifact is: its name and version, the ONNX input and output names, the ordered
 * feature list it expects, and the score thresholds of its decisions. Read from the {@code
 * descriptor.json} that sits beside each {@code model.onnx} under {@code models/artifacts/}.
 *
 * <pre>{@code
 * ModelDescriptor d = ModelDescriptor.read(in);
 * int columns = d.featureCount();
 * }</pre>
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ModelDescriptor(
        @JsonProperty("name") String name,
        @JsonProperty("version") String version,
        @JsonProperty("model_file") String modelFile,
        @JsonProperty("input_name") String inputName,
        @JsonProperty("output_name") String outputName,
        @JsonProperty("features") List<String> features,
        @JsonProperty("thresholds") Thresholds thresholds,
        @JsonProperty("quality") Map<String, Object> quality)
        implements Serializable {

    private static final ObjectMapper JSON = new ObjectMapper();

    public ModelDescriptor {
        require(name, "name");
        require(version, "version");
        require(modelFile, "model_file");
        require(inputName, "input_name");
        require(outputName, "output_name");
        if (features == null || features.isEmpty()) {
            throw new IllegalArgumentException(
                    "model descriptor must list the model's input features, found none");
        }
        if (thresholds == null) {
            throw new IllegalArgumentException("model descriptor must give thresholds");
        }
        features = List.copyOf(features);
        quality = quality == null ? Map.of() : Map.copyOf(quality);
    }

    /** Parses a descriptor; the message of a failure names the source. */
    public static ModelDescriptor read(InputStream in, String source) {
        try {
            return JSON.readValue(in, ModelDescriptor.class);
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "cannot read model descriptor " + source + ": " + e.getMessage(), e);
        }
    }

    /** Number of input features (columns of the input tensor). */
    public int featureCount() {
        return features.size();
    }

    /** {@code name:version}, the identity results are cached and reported under. */
    public String id() {
        return name + ":" + version;
    }

    private static void require(String value, String field) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(
                    "model descriptor field '" + field + "' must be set, found none");
        }
    }

    /**
     * Decision thresholds: a score at or above {@code decline} is declined, at or above {@code
     * review} is sent to review, anything lower is approved.
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Thresholds(
            @JsonProperty("review") double review, @JsonProperty("decline") double decline)
            implements Serializable {
        public Thresholds {
            if (!(0 <= review && review <= decline && decline <= 1)) {
                throw new IllegalArgumentException(
                        "thresholds must satisfy 0 <= review <= decline <= 1, found review="
                                + review
                                + " decline="
                                + decline);
            }
        }
    }
}
