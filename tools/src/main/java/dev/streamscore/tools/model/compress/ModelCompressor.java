package dev.streamscore.tools.model.compress;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.models.onnx.OnnxProtos;
import dev.streamscore.tools.model.LabelledSet;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * {@code streamscore model compress}: writes a smaller or faster variant of a model as a complete
 * model folder ({@code model.onnx}, {@code descriptor.json}, and the source's {@code
 * parity-sample.csv} when it has one) that {@link ModelArtifact#load} and {@link OnnxModel#open}
 * take like any other.
 *
 * <p>The descriptor keeps the source's name, features, thresholds and input/output names; its
 * version gets the method as a pre-release suffix ({@code 1.0.0-int8}, {@code 1.0.0-fp16}, {@code
 * 1.0.0-prune100}; {@code .} joins a second one); {@code sha256} is the new file's. Its {@code
 * provenance} says how it was made: tool, method and parameters, the source's location, name,
 * version and SHA-256, and when; the source's {@code quality}, {@code training} and {@code
 * provenance} move under it as {@code source_quality}, {@code source_training} and {@code
 * source_provenance}, and {@code quality} is left out: it is the source's, not this model's ({@code
 * model evaluate} measures this one). A copied parity sample's {@code expected_probability} values
 * are the source model's too.
 *
 * <p>Methods: {@link Int8Quantizer int8} and {@link Fp16Converter fp16} for networks, {@link
 * TreePruner prune} for tree ensembles; each refuses a model it does not apply to, saying why.
 * Before writing, the new model is opened with ONNX Runtime on the CPU: int8 and prune models must
 * run there; an fp16 model that the CPU provider cannot run is written all the same (it is meant
 * for GPU providers), with a warning giving ONNX Runtime's reason.
 *
 * <pre>{@code
 * ModelCompressor.Report r = ModelCompressor.compress(new ModelCompressor.Request(
 *         "bundled:mlp", Method.INT8, null, null, null, false, Path.of("/tmp/mlp-int8"), false));
 * }</pre>
 */
public final class ModelCompressor {

    /** What the descriptor's {@code provenance.tool} says. */
    public static final String TOOL = "streamscore model compress";

    private static final String MODEL_FILE = "model.onnx";
    private static final String DESCRIPTOR = "descriptor.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Two-space indents, {@code "key": value}, one array element a line: as the trainer writes. */
    private static final DefaultPrettyPrinter PRETTY =
            new DefaultPrettyPrinter()
                    .withSeparators(
                            Separators.createDefaultInstance()
                                    .withObjectFieldValueSpacing(Separators.Spacing.AFTER))
                    .withArrayIndenter(DefaultIndenter.SYSTEM_LINEFEED_INSTANCE.withLinefeed("\n"))
                    .withObjectIndenter(
                            DefaultIndenter.SYSTEM_LINEFEED_INSTANCE.withLinefeed("\n"));

    private ModelCompressor() {}

    /** A compression method, as {@code --method} names it. */
    public enum Method {
        INT8,
        FP16,
        PRUNE;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Method parse(String method) {
            for (Method m : values()) {
                if (m.label().equals(method.trim().toLowerCase(Locale.ROOT))) {
                    return m;
                }
            }
            throw new IllegalArgumentException(
                    "--method must be int8, fp16 or prune, found '" + method + "'");
        }
    }

    /**
     * What to compress and how.
     *
     * @param source the model's location ({@code bundled:<id>}, a folder, ...)
     * @param method how
     * @param trees prune: the number of first trees to keep, or null
     * @param targetDrop prune: keep the fewest first trees whose PR-AUC on {@code data} is at most
     *     this below the whole model's, or null; exactly one of {@code trees} and this
     * @param data prune with {@code targetDrop}: a labelled CSV as {@code export-training-data}
     *     writes it
     * @param perTensor int8: one weight scale per tensor instead of per output column
     * @param out the folder to write
     * @param force whether to overwrite the files of a non-empty {@code out}
     */
    public record Request(
            String source,
            Method method,
            Integer trees,
            Double targetDrop,
            Path data,
            boolean perTensor,
            Path out,
            boolean force) {
        public Request {
            if (source == null || method == null || out == null) {
                throw new IllegalArgumentException("a model, --method and --out are required");
            }
            boolean prune = method == Method.PRUNE;
            if (prune && (trees == null) == (targetDrop == null)) {
                throw new IllegalArgumentException(
                        "--method prune needs exactly one of --trees N and --target-drop X");
            }
            if (!prune && (trees != null || targetDrop != null || data != null)) {
                throw new IllegalArgumentException(
                        "--trees, --target-drop and --data are for --method prune, not "
                                + method.label());
            }
            if (targetDrop != null && (!(targetDrop >= 0 && targetDrop < 1) || data == null)) {
                throw new IllegalArgumentException(
                        "--target-drop must be a PR-AUC drop within [0, 1) and needs --data, got "
                                + targetDrop
                                + (data == null ? " without --data" : ""));
            }
            if (trees != null && targetDrop == null && data != null) {
                throw new IllegalArgumentException("--data is for --target-drop, not --trees");
            }
            if (perTensor && method != Method.INT8) {
                throw new IllegalArgumentException("--per-tensor is for --method int8");
            }
        }
    }

    /**
     * What was written.
     *
     * @param out the folder
     * @param sourceId the source's {@code name:version}
     * @param descriptor the new descriptor
     * @param sourceBytes size of the source's ONNX file
     * @param bytes size of the new ONNX file
     * @param details what the method did, one line each
     * @param warnings what the user should know, one line each (empty when all is well)
     * @param runsOnCpu whether ONNX Runtime's CPU provider ran the new model
     */
    public record Report(
            Path out,
            String sourceId,
            ModelDescriptor descriptor,
            long sourceBytes,
            long bytes,
            List<String> details,
            List<String> warnings,
            boolean runsOnCpu) {

        /** One aligned {@code key: value} line per fact, as {@code model inspect} prints. */
        public void print(PrintWriter writer) {
            String line = "%-17s %s%n";
            writer.printf(line, "wrote:", this.out);
            writer.printf(line, "model:", descriptor.id() + " (from " + sourceId + ")");
            writer.printf(
                    Locale.ROOT,
                    "%-17s %,d bytes, %.0f%% of the source's %,d%n",
                    "file:",
                    bytes,
                    100.0 * bytes / sourceBytes,
                    sourceBytes);
            details.forEach(d -> writer.printf(line, "done:", d));
            writer.printf(line, "runs on the cpu:", runsOnCpu ? "yes" : "no");
            warnings.forEach(w -> writer.printf(line, "warning:", w));
            writer.flush();
        }
    }

    /**
     * Compresses {@code request.source()} into {@code request.out()}.
     *
     * @throws IllegalArgumentException for a method that does not apply to the model, an {@code
     *     out} that is not empty (without {@code force}) or is the source's own folder, or data
     *     that cannot be used
     */
    public static Report compress(Request request) throws IOException, OrtException {
        SourceModel source = SourceModel.load(request.source());
        checkOut(request, source);
        ModelDescriptor sourceDescriptor = source.artifact().descriptor();
        ModelProto model = OnnxProtos.parse(source.artifact().onnxBytes(), request.source());
        ObjectNode parameters = JSON.createObjectNode();
        List<String> details = new ArrayList<>();
        ModelProto compressed;
        String suffix;
        switch (request.method()) {
            case INT8 -> {
                Int8Quantizer.Result r = Int8Quantizer.quantize(model, request.perTensor());
                compressed = r.model();
                // Distinct versions for distinct files: per-tensor and per-column scales differ.
                suffix = request.perTensor() ? "int8pt" : "int8";
                parameters.put("per_tensor", request.perTensor());
                ArrayNode quantized = parameters.putArray("quantized");
                for (Int8Quantizer.QuantizedMatMul q : r.quantized()) {
                    quantized
                            .addObject()
                            .put("operator", q.operator())
                            .put("weight", q.weight())
                            .put("shape", q.rows() + "x" + q.columns());
                    details.add(
                            String.format(
                                    "quantized %s by %s [%d, %d] to int8, %s",
                                    q.operator(),
                                    q.weight(),
                                    q.rows(),
                                    q.columns(),
                                    request.perTensor() ? "one scale" : "a scale per column"));
                }
            }
            case FP16 -> {
                Fp16Converter.Result r = Fp16Converter.convert(model);
                compressed = r.model();
                suffix = "fp16";
                parameters
                        .put("values", r.converted())
                        .put("overflowed", r.overflowed())
                        .put("flushed_to_zero", r.flushedToZero())
                        .put("subnormal", r.subnormal());
                details.add(
                        String.format(
                                Locale.ROOT,
                                "converted %,d float values to float16: %d overflowed to"
                                        + " infinity, %d nonzero became zero, %d subnormal",
                                r.converted(),
                                r.overflowed(),
                                r.flushedToZero(),
                                r.subnormal()));
            }
            case PRUNE -> {
                int all = TreePruner.ensemble(model).treeCount();
                int keep =
                        request.trees() != null
                                ? request.trees()
                                : treesWithin(request, source, model, parameters, details);
                compressed = TreePruner.keepFirstTrees(model, keep);
                suffix = "prune" + keep;
                parameters.put("trees", keep).put("source_trees", all);
                details.add(String.format("kept the first %d of %d trees", keep, all));
            }
            default -> throw new IllegalStateException("unknown method " + request.method());
        }
        byte[] bytes = compressed.toByteArray();
        boolean parity = source.paritySample() != null;
        ObjectNode descriptorJson =
                descriptor(source, request.method(), suffix, parameters, bytes, parity);
        byte[] descriptorBytes =
                (JSON.writer(PRETTY).writeValueAsString(descriptorJson) + "\n")
                        .getBytes(StandardCharsets.UTF_8);
        ModelDescriptor descriptor =
                ModelDescriptor.read(new ByteArrayInputStream(descriptorBytes), DESCRIPTOR);
        List<String> warnings = new ArrayList<>();
        boolean runs = runsOnCpu(request, descriptor, bytes, warnings);
        if (request.method() == Method.INT8) {
            warnings.add(
                    "int8 activations are scaled per call: a row's score depends a little on the"
                            + " other rows of its batch (see max |diff| in `model evaluate`), and"
                            + " full-range int8 weights can saturate on CPUs without VNNI; run"
                            + " `model evaluate` on the hardware you deploy to");
        }
        warnings.add(
                "the review and decline thresholds are the source model's: the scores moved, so"
                        + " check recall @ review and @ decline with `model evaluate` before"
                        + " deploying");
        if (runs && request.method() == Method.FP16 && !keepsFloat16OnCpu(bytes, warnings)) {
            warnings.add(
                    "ONNX Runtime's CPU provider runs this model in float32: it has no float16"
                            + " kernels for its operators here, so it casts the float16 weights"
                            + " back to float32 when it loads it. On the CPU it is no faster, and"
                            + " its scores show only the weights' rounding; float16 arithmetic"
                            + " needs a GPU provider (cuda, tensorrt)");
        }
        write(request.out(), bytes, descriptorBytes, source.paritySample());
        return new Report(
                request.out(),
                sourceDescriptor.id(),
                descriptor,
                source.artifact().onnxBytes().length,
                bytes.length,
                List.copyOf(details),
                List.copyOf(warnings),
                runs);
    }

    /**
     * The fewest first trees whose PR-AUC on the data, measured with ONNX Runtime, is at most the
     * target below the whole model's. Candidates come from the Java walk of every tree count
     * ({@link TreePruner#prAucByTreeCount}), smallest first; each is confirmed with ONNX Runtime
     * (usually the first is), and all the trees always qualify.
     */
    private static int treesWithin(
            Request request,
            SourceModel source,
            ModelProto model,
            ObjectNode parameters,
            List<String> details)
            throws IOException, OrtException {
        LabelledSet data = LabelledSet.read(request.data());
        if (data.positives() == 0) {
            throw new IllegalArgumentException(
                    request.data() + " has no fraud rows: PR-AUC needs some");
        }
        ModelDescriptor d = source.artifact().descriptor();
        float[][] rows = data.rowsFor(d.features(), request.source());
        double[] walked = TreePruner.prAucByTreeCount(model, rows, data.fraud());
        double full = prAuc(source.artifact(), rows, data.fraud());
        double floor = full - request.targetDrop();
        for (int n = 1; n <= walked.length; n++) {
            if (walked[n - 1] < floor) {
                continue;
            }
            ModelProto candidate = TreePruner.keepFirstTrees(model, n);
            byte[] bytes = candidate.toByteArray();
            ModelArtifact artifact =
                    new ModelArtifact(
                            "candidate of " + request.source() + " with " + n + " trees",
                            new ModelDescriptor(
                                    d.name(),
                                    d.version() + "-candidate" + n,
                                    MODEL_FILE,
                                    ModelArtifact.sha256(bytes),
                                    d.inputName(),
                                    d.outputName(),
                                    d.features(),
                                    d.thresholds(),
                                    d.baseline(),
                                    Map.of()),
                            bytes);
            double measured = prAuc(artifact, rows, data.fraud());
            if (measured >= floor) {
                parameters
                        .put("target_drop", request.targetDrop())
                        .put("data", request.data().toAbsolutePath().normalize().toString())
                        .put("data_rows", rows.length)
                        .put("data_frauds", data.positives())
                        .put("pr_auc", measured)
                        .put("source_pr_auc", full);
                details.add(
                        String.format(
                                Locale.ROOT,
                                "PR-AUC on %s (%d rows, %d frauds): %.6f with %d trees, %.6f with"
                                        + " all %d (target: at most %s below)",
                                request.data().getFileName(),
                                rows.length,
                                data.positives(),
                                measured,
                                n,
                                full,
                                walked.length,
                                request.targetDrop()));
                return n;
            }
        }
        throw new IllegalStateException(
                "no tree count reached PR-AUC " + floor + ", not even all the trees");
    }

    /** The PR-AUC of the model's ONNX Runtime scores (CPU, one thread) on {@code rows}. */
    static double prAuc(ModelArtifact artifact, float[][] rows, boolean[] fraud)
            throws OrtException {
        try (OnnxModel model = OnnxModel.open(artifact, OnnxOptions.DEFAULT)) {
            return Metrics.averagePrecision(score(model, rows), fraud);
        }
    }

    /** Scores {@code rows} in batches of 1024. */
    static float[] score(OnnxModel model, float[][] rows) throws OrtException {
        int batch = 1024;
        float[] scores = new float[rows.length];
        FloatBuffer buffer = model.newInputBuffer(batch);
        float[] out = new float[batch];
        for (int first = 0; first < rows.length; first += batch) {
            int n = Math.min(batch, rows.length - first);
            for (int r = 0; r < n; r++) {
                buffer.put(r * model.featureCount(), rows[first + r]);
            }
            model.score(buffer, n, out);
            System.arraycopy(out, 0, scores, first, n);
        }
        return scores;
    }

    private static void checkOut(Request request, SourceModel source) throws IOException {
        Path out = request.out();
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + " is a file, not a folder");
        }
        if (source.folder() != null
                && Files.isDirectory(out)
                && Files.isSameFile(out, source.folder())) {
            throw new IllegalArgumentException(
                    "--out " + out + " is the source model's own folder; choose another");
        }
        if (Files.isDirectory(out) && !request.force()) {
            try (Stream<Path> entries = Files.list(out)) {
                if (entries.findAny().isPresent()) {
                    throw new IllegalArgumentException(
                            "--out "
                                    + out
                                    + " is not empty; give --force to overwrite its "
                                    + MODEL_FILE
                                    + ", "
                                    + DESCRIPTOR
                                    + " and "
                                    + SourceModel.PARITY_SAMPLE);
                }
            }
        }
    }

    private static ObjectNode descriptor(
            SourceModel source,
            Method method,
            String suffix,
            ObjectNode parameters,
            byte[] bytes,
            boolean parity) {
        ObjectNode from = source.descriptorJson();
        ModelDescriptor d = source.artifact().descriptor();
        ObjectNode provenance = JSON.createObjectNode();
        provenance
                .put("tool", TOOL)
                .put("method", method.label())
                .<ObjectNode>set("parameters", parameters)
                .put("source_location", source.where())
                .put("source_name", d.name())
                .put("source_version", d.version())
                .put("source_sha256", d.sha256())
                .put("created_at", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        for (String moved : List.of("quality", "training", "provenance")) {
            JsonNode value = from.get(moved);
            if (value != null && !value.isNull()) {
                provenance.set("source_" + moved, value.deepCopy());
            }
        }
        if (parity) {
            provenance.put(
                    "parity_sample",
                    SourceModel.PARITY_SAMPLE
                            + " copied from the source: its expected_probability values are the"
                            + " source model's");
        }
        ObjectNode out = JSON.createObjectNode();
        // The source's fields in its order, so the two descriptors diff cleanly.
        from.fields()
                .forEachRemaining(
                        e -> {
                            switch (e.getKey()) {
                                case "version" ->
                                        out.put(
                                                "version",
                                                d.version()
                                                        + (d.version().contains("-") ? "." : "-")
                                                        + suffix);
                                case "model_file" -> out.put("model_file", MODEL_FILE);
                                case "sha256" -> out.put("sha256", ModelArtifact.sha256(bytes));
                                case "quality", "training", "provenance" -> {}
                                default -> out.set(e.getKey(), e.getValue().deepCopy());
                            }
                        });
        out.set("provenance", provenance);
        return out;
    }

    /**
     * Opens the new model on ONNX Runtime's CPU provider (which runs it once to warm up). Only an
     * fp16 model may fail: that is reported as a warning.
     */
    private static boolean runsOnCpu(
            Request request, ModelDescriptor descriptor, byte[] bytes, List<String> warnings) {
        ModelArtifact artifact =
                new ModelArtifact(request.out().toAbsolutePath().toString(), descriptor, bytes);
        try (OnnxModel model = OnnxModel.open(artifact, OnnxOptions.DEFAULT)) {
            return true;
        } catch (OrtException e) {
            String reason = e.getMessage() == null ? e.toString() : e.getMessage();
            if (request.method() != Method.FP16) {
                throw new IllegalStateException(
                        "ONNX Runtime cannot run the "
                                + request.method().label()
                                + " model made from "
                                + request.source()
                                + " (a bug of model compress): "
                                + reason,
                        e);
            }
            warnings.add(
                    "ONNX Runtime's CPU provider cannot run this fp16 model, so it is for GPU"
                            + " providers (cuda, tensorrt) only: "
                            + reason.replaceAll("\\s+", " ").trim());
            return false;
        }
    }

    /** {@link #keepsFloat16OnCpu(byte[])}, or a warning and {@code true} when it cannot tell. */
    private static boolean keepsFloat16OnCpu(byte[] bytes, List<String> warnings) {
        try {
            return keepsFloat16OnCpu(bytes);
        } catch (IOException | OrtException | RuntimeException e) {
            // Only a warning depends on it: the model itself is written all the same.
            warnings.add(
                    "could not check whether ONNX Runtime's CPU provider keeps the float16"
                            + " weights: "
                            + e);
            return true;
        }
    }

    /**
     * Whether ONNX Runtime's CPU provider keeps any float16 initializer once it has optimized the
     * graph; it converts those of nodes it has no float16 kernel for back to float32.
     */
    private static boolean keepsFloat16OnCpu(byte[] bytes) throws IOException, OrtException {
        Path optimized = Files.createTempFile("streamscore-fp16-", ".onnx");
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            options.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
            options.setOptimizedModelFilePath(optimized.toString());
            try (OrtSession session =
                    OrtEnvironment.getEnvironment().createSession(bytes, options)) {
                ModelProto model = OnnxProtos.parse(Files.readAllBytes(optimized), "optimized");
                return model.getGraph().getInitializerList().stream()
                        .anyMatch(t -> t.getDataType() == TensorProto.DataType.FLOAT16_VALUE);
            }
        } finally {
            Files.deleteIfExists(optimized);
        }
    }

    /**
     * Writes the folder so that no crash leaves a half-written model that looks whole: under {@code
     * --force} the old descriptor goes first (a folder without one is no model), each file is
     * written beside its place and moved over it, and the descriptor, which names the model file's
     * SHA-256, comes last.
     */
    private static void write(Path out, byte[] model, byte[] descriptor, byte[] parity) {
        try {
            Files.createDirectories(out);
            Files.deleteIfExists(out.resolve(DESCRIPTOR));
            replace(out.resolve(MODEL_FILE), model);
            Path paritySample = out.resolve(SourceModel.PARITY_SAMPLE);
            if (parity != null) {
                replace(paritySample, parity);
            } else {
                Files.deleteIfExists(paritySample); // an older model's, under --force
            }
            replace(out.resolve(DESCRIPTOR), descriptor);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the model folder " + out, e);
        }
    }

    private static void replace(Path file, byte[] bytes) throws IOException {
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        Files.write(partial, bytes);
        Files.move(
                partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
