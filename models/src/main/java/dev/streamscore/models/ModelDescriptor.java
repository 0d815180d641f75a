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
 * What a model artifact is: its name and version, the SHA-256 of its ONNX file, the ONNX input and
 * output names, the ordered feature list it expects, the score thresholds of its decisions, and
 * optionally a baseline row (the mean training row) that occlusion reason codes compare against.
 * Read from the {@code descriptor.json} that sits beside each {@code model.onnx} under {@code
 * models/artifacts/}.
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
        @JsonProperty("sha256") String sha256,
        @JsonProperty("input_name") String inputName,
        @JsonProperty("output_name") String outputName,
        @JsonProperty("features") List<String> features,
        @JsonProperty("thresholds") Thresholds thresholds,
        @JsonProperty("baseline") List<Double> baseline,
        @JsonProperty("quality") Map<String, Object> quality)
        implements Serializable {

    private static final ObjectMapper JSON = new ObjectMapper();

    public ModelDescriptor {
        require(name, "name");
        require(version, "version");
        require(modelFile, "model_file");
        require(sha256, "sha256");
        sha256 = sha256.trim().toLowerCase(java.util.Locale.ROOT); // Get-FileHash writes upper case
        if (!sha256.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException(
                    "model descriptor field 'sha256' must be the SHA-256 of the model file in 64"
                            + " hex digits (sha256sum model.onnx), found '"
                            + sha256
                            + "'");
        }
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
        if (baseline != null) {
            if (baseline.size() != features.size()) {
                throw new IllegalArgumentException(
                        "model descriptor field 'baseline' must hold one value per feature ("
                                + features.size()
                                + "), found "
                                + baseline.size());
            }
            for (int i = 0; i < baseline.size(); i++) {
                Double v = baseline.get(i);
                if (v == null || !Double.isFinite(v)) {
                    throw new IllegalArgumentException(
                            "model descriptor field 'baseline' must hold finite numbers; value "
                                    + i
                                    + " ("
                                    + features.get(i)
                                    + ") is "
                                    + v);
                }
            }
            baseline = List.copyOf(baseline);
        }
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

    /** {@code name:version}, the identity scores and metrics report. */
    public String id() {
        return name + ":" + version;
    }

    /**
     * {@code name:version@<first 16 hex digits of the model file's SHA-256>}: what results are
     * cached and coalesced under, so retrained weights shipped under an unchanged version never get
     * an older model's cached scores.
     */
    public String identity() {
        return id() + "@" + sha256.substring(0, 16);
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
