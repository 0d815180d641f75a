package dev.streamscore.models;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.Map;
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
 * <p>{@link #score} is thread-safe (ONNX Runtime sessions are).
 */
public final class OnnxModel implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OnnxModel.class);

    /** Shared sessions by key; guarded by itself. */
    private static final Map<String, SharedSession> SESSIONS = new HashMap<>();

    private final SharedSession shared;
    private boolean closed;

    private OnnxModel(SharedSession shared) {
        this.shared = shared;
    }

    /**
     * Opens (or shares) the session of the model at {@code location}; see {@link ModelArtifact}.
     */
    public static OnnxModel open(String location, OnnxOptions options) throws OrtException {
        String key = location + "|" + options;
        synchronized (SESSIONS) {
            SharedSession shared = SESSIONS.get(key);
            if (shared == null) {
                shared = SharedSession.create(key, ModelArtifact.load(location), options);
                SESSIONS.put(key, shared);
            }
            shared.references++;
            return new OnnxModel(shared);
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

    /**
     * A direct, native-order buffer for {@code rows} input rows, the form ONNX Runtime reads
     * without a copy.
     */
    public FloatBuffer newInputBuffer(int rows) {
        return ByteBuffer.allocateDirect(rows * featureCount() * Float.BYTES)
                .order(ByteOrder.nativeOrder())
                .asFloatBuffer();
    }

    /**
     * Scores {@code n} rows held row-major from position 0 of {@code rows} and writes their fraud
     * probabilities into {@code out[0..n)}.
     */
    public void score(FloatBuffer rows, int n, float[] out) throws OrtException {
        if (closed) {
            throw new IllegalStateException("model " + shared.descriptor.id() + " is closed");
        }
        int columns = featureCount();
        if (n < 1 || out.length < n || rows.capacity() < n * columns) {
            throw new IllegalArgumentException(
                    "score needs 1 <= n <= out.length and n * "
                            + columns
                            + " floats of input, got n="
                            + n
                            + ", out.length="
                            + out.length
                            + ", input capacity="
                            + rows.capacity());
        }
        FloatBuffer view = rows.duplicate();
        view.position(0).limit(n * columns);
        try (OnnxTensor input =
                        OnnxTensor.createTensor(
                                OrtEnvironment.getEnvironment(), view, new long[] {n, columns});
                OrtSession.Result result =
                        shared.session.run(Map.of(shared.descriptor.inputName(), input))) {
            OnnxTensor output = (OnnxTensor) result.get(shared.descriptor.outputName()).get();
            FloatBuffer probabilities = output.getFloatBuffer();
            if (probabilities.remaining() != n) {
                throw new IllegalStateException(
                        "model "
                                + shared.descriptor.id()
                                + " returned "
                                + probabilities.remaining()
                                + " values for "
                                + n
                                + " rows; expected one probability per row");
            }
            probabilities.get(out, 0, n);
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
                shared.session.close();
            }
        }
    }

    private static final class SharedSession {
        final String key;
        final ModelDescriptor descriptor;
        final OrtSession session;
        int references;

        private SharedSession(String key, ModelDescriptor descriptor, OrtSession session) {
            this.key = key;
            this.descriptor = descriptor;
            this.session = session;
        }

        static SharedSession create(String key, ModelArtifact artifact, OnnxOptions options)
                throws OrtException {
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            OrtSession session;
            try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
                so.setIntraOpNumThreads(options.intraOpThreads());
                so.setInterOpNumThreads(options.interOpThreads());
                so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                session = env.createSession(artifact.onnxBytes(), so);
            }
            try {
                checkSignature(artifact, session);
                SharedSession shared = new SharedSession(key, artifact.descriptor(), session);
                warmUp(shared);
                LOG.info(
                        "Loaded model {} from {} ({} features, {} intra-op / {} inter-op threads)",
                        artifact.descriptor().id(),
                        artifact.location(),
                        artifact.descriptor().featureCount(),
                        options.intraOpThreads(),
                        options.interOpThreads());
                return shared;
            } catch (RuntimeException | OrtException e) {
                session.close();
                throw e;
            }
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
                                + java.util.Arrays.toString(shape));
            }
        }

        /** One call at load, so the first real batch does not pay for lazy initialisation. */
        private static void warmUp(SharedSession shared) throws OrtException {
            OnnxModel probe = new OnnxModel(shared);
            int rows = 8;
            probe.score(probe.newInputBuffer(rows), rows, new float[rows]);
        }
    }
}
