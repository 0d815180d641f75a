package dev.streamscore.operators.lifecycle;

import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.operators.batching.BatchScorer;
import dev.streamscore.schemas.ModelCommand;
import java.io.Serializable;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the model a deploy command names and verifies it before anything scores with it: the ONNX
 * file's SHA-256 against the command's, its name and version against the command's, its inputs
 * against the features the job computes ({@code modelCheck}), its session's input and output
 * against its descriptor (ONNX Runtime's signature, checked when the session opens, then warmed
 * up), and probe rows that must score to finite values in [0, 1]. On a thread of its own, one
 * command at a time, in the order they were submitted; a refusal is a {@link Refused} with the
 * reason.
 *
 * <pre>{@code
 * ModelLoader loader = new ModelLoader(opener, featureCheck, probeRows, "inference (1/2)");
 * loader.submit(deploy, outcome -> mailbox.execute(() -> apply(outcome), "model loaded"));
 * }</pre>
 */
public final class ModelLoader implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ModelLoader.class);

    /** Prefix of the loader thread's name. */
    public static final String THREAD_NAME_PREFIX = "streamscore-model-loader";

    /** Opens a loaded artifact as a scorer (an ONNX Runtime session); part of the job graph. */
    @FunctionalInterface
    public interface Opener extends Serializable {
        BatchScorer open(ModelArtifact artifact) throws Exception;
    }

    /** A model that failed verification, and why. */
    public static final class Refused extends Exception {
        public Refused(String reason, Throwable cause) {
            super(reason, cause);
        }
    }

    /** What a load came to: a scorer, open and verified, or why not. */
    public record Outcome(ModelCommand target, BatchScorer scorer, Refused refused) {}

    private final Opener opener;
    private final Consumer<ModelDescriptor> modelCheck;
    private final java.util.function.Function<ModelDescriptor, float[][]> probeRows;
    private final ExecutorService thread;

    /** Models loaded and handed over, not yet {@link #claim}ed: closed by {@link #close}. */
    private final Set<BatchScorer> unclaimed = Collections.newSetFromMap(new IdentityHashMap<>());

    /**
     * @param modelCheck throws {@link IllegalArgumentException} when the model does not take the
     *     rows the job makes
     * @param probeRows the rows a model must score to finite values in [0, 1] (see {@link
     *     #probeRowsOf})
     */
    public ModelLoader(
            Opener opener,
            Consumer<ModelDescriptor> modelCheck,
            java.util.function.Function<ModelDescriptor, float[][]> probeRows,
            String taskName) {
        this.opener = opener;
        this.modelCheck = modelCheck;
        this.probeRows = probeRows;
        this.thread =
                Executors.newSingleThreadExecutor(
                        runnable -> {
                            Thread t =
                                    new Thread(
                                            runnable, THREAD_NAME_PREFIX + " (" + taskName + ")");
                            t.setDaemon(true);
                            return t;
                        });
    }

    /**
     * Loads and verifies {@code target} off the calling thread, then hands the outcome to {@code
     * done} on the loader's thread. When the loader is closed before, a loaded model is closed.
     */
    public void submit(ModelCommand target, Consumer<Outcome> done) {
        try {
            thread.execute(
                    () -> {
                        Outcome outcome;
                        try {
                            BatchScorer scorer = load(target);
                            synchronized (unclaimed) {
                                unclaimed.add(scorer);
                            }
                            outcome = new Outcome(target, scorer, null);
                        } catch (Refused refused) {
                            outcome = new Outcome(target, null, refused);
                        } catch (Throwable t) {
                            // Whatever went wrong (no memory for the file, a native library that
                            // would not link, a bug), the command must get its answer, or every
                            // command after it would wait forever.
                            outcome =
                                    new Outcome(
                                            target,
                                            null,
                                            new Refused("loading the model failed: " + t, t));
                            if (t instanceof VirtualMachineError error) {
                                done.accept(outcome);
                                throw error;
                            }
                        }
                        try {
                            done.accept(outcome);
                        } catch (RejectedExecutionException e) {
                            // The task is closing; the command is in the checkpoint.
                            if (outcome.scorer() != null && claim(outcome.scorer())) {
                                closeQuietly(outcome.scorer());
                            }
                        }
                    });
        } catch (RejectedExecutionException e) {
            LOG.debug("Model {} not loaded: the operator is closing", target.getCommandId(), e);
        }
    }

    /**
     * Takes a scorer an {@link Outcome} handed over: from now on the caller closes it.
     *
     * @return false when it was closed already (the loader was closed)
     */
    public boolean claim(BatchScorer scorer) {
        synchronized (unclaimed) {
            return unclaimed.remove(scorer);
        }
    }

    /** Loads and verifies {@code target} on the calling thread. */
    public BatchScorer load(ModelCommand target) throws Refused {
        String problem = ModelCommands.problemWith(target);
        if (problem != null) {
            throw new Refused(problem, null);
        }
        long start = System.nanoTime();
        ModelArtifact artifact;
        try {
            artifact = ModelArtifact.load(target.getLocation());
        } catch (RuntimeException e) {
            throw new Refused(
                    "cannot load the model at " + target.getLocation() + ": " + e.getMessage(), e);
        }
        ModelDescriptor d = artifact.descriptor();
        String expectedSha = target.getSha256().toLowerCase(java.util.Locale.ROOT);
        if (!d.sha256().equals(expectedSha)) {
            throw new Refused(
                    "the model file at "
                            + target.getLocation()
                            + " has SHA-256 "
                            + d.sha256()
                            + ", the command gives "
                            + expectedSha
                            + ": not the model that was meant",
                    null);
        }
        if (!d.name().equals(target.getModelName())
                || !d.version().equals(target.getModelVersion())) {
            throw new Refused(
                    "the model at "
                            + target.getLocation()
                            + " is "
                            + d.id()
                            + ", the command names "
                            + ModelCommands.id(target),
                    null);
        }
        try {
            modelCheck.accept(d);
        } catch (RuntimeException e) {
            throw new Refused(e.getMessage(), e);
        }
        BatchScorer scorer;
        try {
            scorer = opener.open(artifact);
        } catch (Exception e) {
            throw new Refused("cannot open " + d.id() + " in ONNX Runtime: " + e.getMessage(), e);
        }
        try {
            probe(scorer);
        } catch (Refused | RuntimeException e) {
            closeQuietly(scorer);
            throw e instanceof Refused r
                    ? r
                    : new Refused("probe rows failed on " + d.id() + ": " + e, e);
        }
        LOG.info(
                "Loaded and verified model {} from {} in {} ms",
                d.identity(),
                target.getLocation(),
                (System.nanoTime() - start) / 1_000_000);
        return scorer;
    }

    /**
     * The rows any model is probed with by default: all zeros, all ones, and the descriptor's
     * baseline (its mean training row) when it gives one.
     */
    public static float[][] probeRowsOf(ModelDescriptor d) {
        int n = d.featureCount();
        float[] ones = new float[n];
        Arrays.fill(ones, 1f);
        if (d.baseline() == null) {
            return new float[][] {new float[n], ones};
        }
        float[] baseline = new float[n];
        for (int i = 0; i < n; i++) {
            baseline[i] = d.baseline().get(i).floatValue();
        }
        return new float[][] {new float[n], ones, baseline};
    }

    private void probe(BatchScorer scorer) throws Refused {
        int columns = scorer.descriptor().featureCount();
        float[][] probeRows = this.probeRows.apply(scorer.descriptor());
        FloatBuffer rows = scorer.newInputBuffer(probeRows.length);
        for (float[] row : probeRows) {
            if (row.length != columns) {
                throw new Refused(
                        "probe row of "
                                + row.length
                                + " features for a model of "
                                + columns
                                + " features",
                        null);
            }
            rows.put(row);
        }
        rows.clear();
        float[] out = new float[probeRows.length];
        try {
            scorer.score(rows, probeRows.length, out);
        } catch (Exception e) {
            throw new Refused(
                    "model " + scorer.descriptor().id() + " failed on the probe rows: " + e, e);
        }
        for (int i = 0; i < out.length; i++) {
            if (!(out[i] >= 0 && out[i] <= 1)) {
                throw new Refused(
                        "model "
                                + scorer.descriptor().id()
                                + " scored probe row "
                                + i
                                + " "
                                + Arrays.toString(probeRows[i])
                                + " to "
                                + out[i]
                                + ", expected a probability in [0, 1]",
                        null);
            }
        }
    }

    private static void closeQuietly(BatchScorer scorer) {
        if (scorer == null) {
            return;
        }
        try {
            scorer.close();
        } catch (Exception e) {
            LOG.warn("Could not close model {}", scorer.descriptor().id(), e);
        }
    }

    /** Stops the thread; waits for a load in progress, which then closes what it loaded. */
    @Override
    public void close() throws InterruptedException {
        thread.shutdownNow();
        if (!thread.awaitTermination(30, TimeUnit.SECONDS)) {
            LOG.warn("A model load was still running when the operator closed");
        }
        List<BatchScorer> left;
        synchronized (unclaimed) {
            left = new ArrayList<>(unclaimed);
            unclaimed.clear();
        }
        left.forEach(ModelLoader::closeQuietly);
    }
}
