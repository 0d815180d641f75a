package dev.streamscore.models;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A handle on a model loaded into ONNX Runtime. One session per model location and options is
 * shared by every handle in the JVM (so a TaskManager's subtasks share one), counted by reference
 * and closed when the last handle closes. The {@link OrtEnvironment} is the process-wide one and is
 * never closed.
 *
 * <pre>{@code
 * try (OnnxModel model = OnnxModel.open("bundled:gbdt", OnnxOptions.DEFAULT)) {
 *     FloatBuffer rows = model.newInputBuffer(256);
 *     // ... put n rows of model.featureCount() floats ...
 *     float[] scores = new float[256];
 *     model.score(rows, n, scores);
 * }
 * }</pre>
 *
 * <p>The session runs on the {@link OnnxOptions#executionProvider() execution provider} asked for;
 * {@link ExecutionProvider#AUTO} takes the best one that initialises and logs at INFO why each
 * better one was passed over. {@link #executionProvider()} says which one is in use.
 *
 * <p>{@link #score} is thread-safe (ONNX Runtime sessions are) as long as concurrent calls use
 * different input buffers.
 *
 * <p>With a {@link OnnxOptions#profilePrefix() profile prefix}, ONNX Runtime profiles every call of
 * the session and writes the profile when the session closes, with its last handle; the file's name
 * is logged at INFO.
 */
public final class OnnxModel implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OnnxModel.class);

    /** Rows of the warm-up call when no padding sizes are set. */
    private static final int WARM_UP_ROWS = 8;

    /** Where to get the GPU build, for messages about a provider this build lacks. */
    private static final String GPU_BUILD_HINT =
            "the GPU build (com.microsoft.onnxruntime:onnxruntime_gpu) comes with the Maven"
                    + " profile 'gpu' of streamscore-models (mvn -Pgpu, or -Dgpu)";

    /** Shared sessions by key; guarded by itself. */
    private static final Map<String, SharedSession> SESSIONS = new HashMap<>();

    /** Sessions being created, by key, so that a second open of the same model waits for it. */
    private static final Map<String, CompletableFuture<SharedSession>> CREATING = new HashMap<>();

    private final SharedSession shared;
    private boolean closed;

    private OnnxModel(SharedSession shared) {
        this.shared = shared;
    }

    /**
     * Opens (or shares) the session of the model at {@code location}; see {@link ModelArtifact}.
     *
     * @throws IllegalStateException when the execution provider asked for is not in this ONNX
     *     Runtime build or fails to initialise (not for {@link ExecutionProvider#AUTO}, which falls
     *     back)
     */
    public static OnnxModel open(String location, OnnxOptions options) throws OrtException {
        return open(location, options, OrtEnvironment.getAvailableProviders());
    }

    /**
     * As {@link #open(String, OnnxOptions)}, with the set of providers this ONNX Runtime build is
     * taken to have given: tests claim GPU providers to drive ONNX Runtime's own failure to
     * initialise them on a CPU-only build.
     */
    static OnnxModel open(String location, OnnxOptions options, Set<OrtProvider> providersInBuild)
            throws OrtException {
        return open(ModelArtifact.load(location), options, providersInBuild);
    }

    /**
     * Opens (or shares) the session of a model already loaded (and its SHA-256 checked): what a
     * model deployed while the job runs is opened with.
     */
    public static OnnxModel open(ModelArtifact artifact, OnnxOptions options) throws OrtException {
        return open(artifact, options, OrtEnvironment.getAvailableProviders());
    }

    private static OnnxModel open(
            ModelArtifact artifact, OnnxOptions options, Set<OrtProvider> providersInBuild)
            throws OrtException {
        // Every option is part of the key (the record's toString lists them all), so a cuda and a
        // cpu handle, or a profiled and an unprofiled one, never share a session; and so is the
        // file's SHA-256, so a model retrained in place never shares the old one's session.
        String key = artifact.location() + "|" + artifact.descriptor().identity() + "|" + options;
        // The session is created outside the lock: creating and warming up a large model takes
        // seconds, and a task thread closing another model must not wait for it.
        while (true) {
            CompletableFuture<SharedSession> creating;
            boolean mine = false;
            synchronized (SESSIONS) {
                SharedSession shared = SESSIONS.get(key);
                if (shared != null) {
                    shared.references++;
                    return new OnnxModel(shared);
                }
                creating = CREATING.get(key);
                if (creating == null) {
                    creating = new CompletableFuture<>();
                    CREATING.put(key, creating);
                    mine = true;
                }
            }
            if (!mine) {
                try {
                    creating.join(); // then share it, or create it if it failed or was closed
                } catch (RuntimeException e) {
                    // Its creator failed and reported it; this caller tries again itself.
                }
                continue;
            }
            SharedSession created;
            try {
                created = SharedSession.create(key, artifact, options, providersInBuild);
            } catch (OrtException | RuntimeException | Error e) {
                synchronized (SESSIONS) {
                    CREATING.remove(key);
                }
                creating.completeExceptionally(e);
                throw e;
            }
            synchronized (SESSIONS) {
                CREATING.remove(key);
                created.references++;
                SESSIONS.put(key, created);
            }
            creating.complete(created);
            return new OnnxModel(created);
        }
    }

    /** Number of ONNX Runtime sessions currently open in this JVM (for leak checks). */
    public static int openSessions() {
        synchronized (SESSIONS) {
            return SESSIONS.size();
        }
    }

    public ModelDescriptor descriptor() {
        return shared.descriptor;
    }

    public int featureCount() {
        return shared.descriptor.featureCount();
    }

    /** The provider the session runs on: never {@link ExecutionProvider#AUTO}. */
    public ExecutionProvider executionProvider() {
        return shared.provider;
    }

    /** The options the session was opened with. */
    public OnnxOptions options() {
        return shared.options;
    }

    /**
     * A direct, native-order buffer for {@code rows} input rows, the form ONNX Runtime reads
     * without a copy. With padding it holds {@link OnnxOptions#paddedRows(int) the padded number}
     * of rows, as {@link #score} needs.
     */
    public FloatBuffer newInputBuffer(int rows) {
        int capacity = Math.multiplyExact(shared.options.paddedRows(rows), featureCount());
        return ByteBuffer.allocateDirect(Math.multiplyExact(capacity, Float.BYTES))
                .order(ByteOrder.nativeOrder())
                .asFloatBuffer();
    }

    /**
     * Scores {@code n} rows held row-major from index 0 of {@code rows} and writes their fraud
     * probabilities into {@code out[0..n)}. The buffer's position and limit are ignored and left as
     * they are. With padding, the rows after the {@code n}th up to the padded size are overwritten
     * with zeros and their outputs discarded.
     */
    public void score(FloatBuffer rows, int n, float[] out) throws OrtException {
        if (closed) {
            throw new IllegalStateException("model " + shared.descriptor.id() + " is closed");
        }
        int columns = featureCount();
        int padded = n < 1 ? n : shared.options.paddedRows(n);
        if (n < 1 || out.length < n || rows.capacity() < (long) padded * columns) {
            throw new IllegalArgumentException(
                    "score needs 1 <= n <= out.length and "
                            + (padded == n ? "n" : padded + " (n padded)")
                            + " * "
                            + columns
                            + " floats of input (see newInputBuffer), got n="
                            + n
                            + ", out.length="
                            + out.length
                            + ", input capacity="
                            + rows.capacity());
        }
        for (int i = n * columns; i < padded * columns; i++) {
            rows.put(i, 0f);
        }
        int perCall = Math.min(padded, shared.options.largestCall());
        for (int first = 0; first < n; first += perCall) {
            FloatBuffer view = rows.duplicate();
            view.clear().position(first * columns).limit((first + perCall) * columns);
            run(view.slice(), perCall, out, first, Math.min(perCall, n - first));
        }
    }

    /** One ONNX Runtime call on {@code callRows} rows; keeps the first {@code keep} outputs. */
    private void run(FloatBuffer input, int callRows, float[] out, int outOffset, int keep)
            throws OrtException {
        ModelDescriptor d = shared.descriptor;
        try (OnnxTensor tensor =
                        OnnxTensor.createTensor(
                                OrtEnvironment.getEnvironment(),
                                input,
                                new long[] {callRows, d.featureCount()});
                OrtSession.Result result =
                        shared.session.run(Map.of(d.inputName(), tensor), shared.runOptions)) {
            OnnxTensor output = (OnnxTensor) result.get(d.outputName()).get();
            FloatBuffer probabilities = output.getFloatBuffer();
            if (probabilities.remaining() != callRows) {
                throw new IllegalStateException(
                        "model "
                                + d.id()
                                + " returned "
                                + probabilities.remaining()
                                + " values for "
                                + callRows
                                + " rows; expected one probability per row");
            }
            probabilities.get(out, outOffset, keep);
        }
    }

    /** Convenience for tests and tools: scores rows given as arrays. */
    public float[] score(float[][] rows) throws OrtException {
        FloatBuffer buffer = newInputBuffer(rows.length);
        for (float[] row : rows) {
            if (row.length != featureCount()) {
                throw new IllegalArgumentException(
                        "expected rows of " + featureCount() + " features, found " + row.length);
            }
            buffer.put(row);
        }
        float[] out = new float[rows.length];
        score(buffer, rows.length, out);
        return out;
    }

    /** Releases this handle; the session closes with the last handle. Idempotent. */
    @Override
    public void close() throws OrtException {
        if (closed) {
            return;
        }
        closed = true;
        synchronized (SESSIONS) {
            if (--shared.references == 0) {
                SESSIONS.remove(shared.key);
                shared.release();
            }
        }
    }

    private static final class SharedSession {
        final String key;
        final ModelDescriptor descriptor;
        final OnnxOptions options;
        final ExecutionProvider provider;
        final OrtSession session;
        final OrtSession.RunOptions runOptions;
        int references;

        private SharedSession(
                String key,
                ModelDescriptor descriptor,
                OnnxOptions options,
                ExecutionProvider provider,
                OrtSession session,
                OrtSession.RunOptions runOptions) {
            this.key = key;
            this.descriptor = descriptor;
            this.options = options;
            this.provider = provider;
            this.session = session;
            this.runOptions = runOptions;
        }

        static SharedSession create(
                String key,
                ModelArtifact artifact,
                OnnxOptions options,
                Set<OrtProvider> providersInBuild)
                throws OrtException {
            ExecutionProvider requested = options.executionProvider();
            SharedSession shared;
            if (requested == ExecutionProvider.AUTO) {
                shared = startBestProvider(key, artifact, options, providersInBuild);
            } else if (requested == ExecutionProvider.CPU) {
                shared = start(key, artifact, options, ExecutionProvider.CPU);
            } else {
                shared = startGpu(key, artifact, options, providersInBuild, requested);
            }
            LOG.info(
                    "Loaded model {} from {} on {} ({} features, {} intra-op / {} inter-op"
                            + " threads, {})",
                    artifact.descriptor().id(),
                    artifact.location(),
                    shared.provider == ExecutionProvider.CPU
                            ? "cpu"
                            : shared.provider + " (GPU device " + options.deviceId() + ")",
                    artifact.descriptor().featureCount(),
                    options.intraOpThreads(),
                    options.interOpThreads(),
                    options.padToSizes().isEmpty()
                            ? "no padding"
                            : "batches padded to " + options.padToSizes());
            return shared;
        }

        /** A GPU provider asked for by name: it works, or opening fails saying why. */
        private static SharedSession startGpu(
                String key,
                ModelArtifact artifact,
                OnnxOptions options,
                Set<OrtProvider> providersInBuild,
                ExecutionProvider provider)
                throws OrtException {
            if (!providersInBuild.contains(provider.ortProvider())) {
                throw new IllegalStateException(
                        "execution provider '"
                                + provider
                                + "' is not in this ONNX Runtime build, which has "
                                + ExecutionProvider.describe(providersInBuild)
                                + "; "
                                + GPU_BUILD_HINT
                                + ". Or choose execution provider 'cpu', or 'auto' to fall back"
                                + " to the CPU");
            }
            try {
                return start(key, artifact, options, provider);
            } catch (OrtException e) {
                throw new IllegalStateException(
                        "execution provider '"
                                + provider
                                + "' (GPU device "
                                + options.deviceId()
                                + ") failed to initialise for model "
                                + artifact.descriptor().id()
                                + ": "
                                + e.getMessage(),
                        e);
            }
        }

        /** TensorRT, else CUDA, else the CPU; logs why each better provider was passed over. */
        private static SharedSession startBestProvider(
                String key,
                ModelArtifact artifact,
                OnnxOptions options,
                Set<OrtProvider> providersInBuild)
                throws OrtException {
            List<String> passedOver = new ArrayList<>();
            for (ExecutionProvider candidate :
                    List.of(ExecutionProvider.TENSORRT, ExecutionProvider.CUDA)) {
                if (!providersInBuild.contains(candidate.ortProvider())) {
                    passedOver.add(
                            candidate
                                    + ": not in this ONNX Runtime build, which has "
                                    + ExecutionProvider.describe(providersInBuild));
                    continue;
                }
                try {
                    SharedSession shared = start(key, artifact, options, candidate);
                    logChoice(artifact, candidate, passedOver);
                    return shared;
                } catch (OrtException e) {
                    passedOver.add(
                            candidate
                                    + " (GPU device "
                                    + options.deviceId()
                                    + "): failed to initialise: "
                                    + e.getMessage());
                }
            }
            if (passedOver.stream().anyMatch(reason -> reason.contains("not in this"))) {
                passedOver.add(GPU_BUILD_HINT);
            }
            SharedSession shared = start(key, artifact, options, ExecutionProvider.CPU);
            logChoice(artifact, ExecutionProvider.CPU, passedOver);
            return shared;
        }

        private static void logChoice(
                ModelArtifact artifact, ExecutionProvider chosen, List<String> passedOver) {
            LOG.info(
                    "Execution provider auto chose {} for model {}{}",
                    chosen,
                    artifact.descriptor().id(),
                    passedOver.isEmpty() ? "" : "; passed over " + String.join("; ", passedOver));
        }

        /**
         * A session on {@code provider}, its signature checked and warmed up. An OrtException means
         * the session could not be created or run on this provider.
         */
        private static SharedSession start(
                String key, ModelArtifact artifact, OnnxOptions options, ExecutionProvider provider)
                throws OrtException {
            OrtSession session;
            try (OrtSession.SessionOptions so = sessionOptions(options, provider)) {
                session = OrtEnvironment.getEnvironment().createSession(artifact.onnxBytes(), so);
            }
            OrtSession.RunOptions runOptions = null;
            try {
                checkSignature(artifact, session);
                runOptions = new OrtSession.RunOptions();
                runOptions.setLogLevel(options.runLogLevel().ort());
                SharedSession shared =
                        new SharedSession(
                                key, artifact.descriptor(), options, provider, session, runOptions);
                warmUp(shared);
                return shared;
            } catch (RuntimeException | OrtException e) {
                if (runOptions != null) {
                    runOptions.close();
                }
                session.close();
                throw e;
            }
        }

        private static OrtSession.SessionOptions sessionOptions(
                OnnxOptions options, ExecutionProvider provider) throws OrtException {
            OrtSession.SessionOptions so = new OrtSession.SessionOptions();
            try {
                so.setIntraOpNumThreads(options.intraOpThreads());
                so.setInterOpNumThreads(options.interOpThreads());
                so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                so.setSessionLogLevel(options.sessionLogLevel().ort());
                if (options.profilePrefix() != null) {
                    so.enableProfiling(profileFolderMade(options.profilePrefix()));
                }
                // Providers are tried per node in the order registered; the CPU comes last.
                switch (provider) {
                    case TENSORRT -> {
                        so.addTensorrt(options.deviceId());
                        so.addCUDA(options.deviceId());
                        so.addCPU(true);
                    }
                    case CUDA -> so.addCUDA(options.deviceId());
                    case CPU -> {}
                    case AUTO -> throw new IllegalArgumentException("auto is not one provider");
                }
                return so;
            } catch (RuntimeException | OrtException e) {
                so.close();
                throw e;
            }
        }

        /**
         * {@code prefix}, its folder created: ONNX Runtime writes no profile, and says nothing,
         * when the folder is missing.
         */
        private static String profileFolderMade(String prefix) {
            Path folder = Path.of(prefix).toAbsolutePath().getParent();
            try {
                Files.createDirectories(folder);
            } catch (IOException e) {
                throw new UncheckedIOException(
                        "cannot create folder "
                                + folder
                                + " for the ONNX Runtime profile "
                                + prefix
                                + "_<timestamp>.json",
                        e);
            }
            return prefix;
        }

        private static void checkSignature(ModelArtifact artifact, OrtSession session)
                throws OrtException {
            ModelDescriptor d = artifact.descriptor();
            NodeInfo input = session.getInputInfo().get(d.inputName());
            if (input == null) {
                throw new IllegalArgumentException(
                        "model "
                                + artifact.location()
                                + " has no input named '"
                                + d.inputName()
                                + "' as its descriptor says; inputs are "
                                + session.getInputNames());
            }
            if (!session.getOutputNames().contains(d.outputName())) {
                throw new IllegalArgumentException(
                        "model "
                                + artifact.location()
                                + " has no output named '"
                                + d.outputName()
                                + "' as its descriptor says; outputs are "
                                + session.getOutputNames());
            }
            long[] shape = ((TensorInfo) input.getInfo()).getShape();
            if (shape.length != 2 || (shape[1] != -1 && shape[1] != d.featureCount())) {
                throw new IllegalArgumentException(
                        "model "
                                + artifact.location()
                                + " input '"
                                + d.inputName()
                                + "' must have shape [batch, "
                                + d.featureCount()
                                + "] to match its "
                                + d.featureCount()
                                + " descriptor features, found "
                                + Arrays.toString(shape));
            }
        }

        /**
         * Calls at load, so the first real batch does not pay for lazy initialisation: one per
         * padding size (a shape-specialising provider builds its engine for each), else one.
         */
        private static void warmUp(SharedSession shared) throws OrtException {
            OnnxModel probe = new OnnxModel(shared);
            List<Integer> sizes = shared.options.padToSizes();
            for (int rows : sizes.isEmpty() ? List.of(WARM_UP_ROWS) : sizes) {
                probe.score(probe.newInputBuffer(rows), rows, new float[rows]);
            }
        }

        /**
         * Closes what {@link #start} opened, in reverse order; first writes the profile, when
         * profiling, so its file name can be logged.
         */
        void release() throws OrtException {
            runOptions.close();
            try {
                if (options.profilePrefix() != null) {
                    String file = session.endProfiling();
                    LOG.info(
                            "ONNX Runtime profile of model {} ({} session) written to {}",
                            descriptor.id(),
                            provider,
                            file);
                }
            } finally {
                session.close();
            }
        }
    }
}
