package dev.streamscore.tools.bench;

import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.testkit.FeatureRows;
import dev.streamscore.testkit.cardfraud.CardFeatures;
import dev.streamscore.testkit.generator.TransactionGenerator;
import java.nio.FloatBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The model's own ceiling: batches scored per second by ONNX Runtime in-process, with no Flink and
 * no Kafka around it. One operation is one {@link OnnxModel#score(FloatBuffer, int, float[])} call
 * on {@code batchSize} rows, so rows/s is the score times {@code batchSize}.
 *
 * <p>Every benchmark thread is one caller, as one inference subtask is: all share one session (as
 * the subtasks of a TaskManager do), each with its own input buffer. The rows are the features of
 * generated transactions, computed by {@link CardFeatures} after enough traffic that card histories
 * are filled, so trees take the branches real traffic takes.
 *
 * <p>Run it through {@link ModelCeilingRunner#measure}, which sets the parameters and converts the
 * result to {@link BenchResults.ModelCeiling} rows; or with JMH's own main, e.g. {@code
 * org.openjdk.jmh.Main ModelThroughputBenchmark -p model=mlp -p batchSize=256 -f 0}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class ModelThroughputBenchmark {

    /** Transactions generated before rows are taken, so that card histories are filled. */
    static final int HISTORY_TRANSACTIONS = 30_000;

    /** Seed of the generated traffic: every run scores the same rows. */
    static final long SEED = 20_261_127L;

    /** A bundled model ({@code gbdt}, {@code mlp}, {@code deep}) or a model folder. */
    @Param({"gbdt", "mlp"})
    public String model;

    /** Rows per model call. */
    @Param({"1", "8", "64", "256"})
    public int batchSize;

    /** ONNX Runtime threads per call ({@link OnnxOptions#intraOpThreads()}). */
    @Param({"1"})
    public int intraOpThreads;

    private OnnxModel onnx;
    private float[][] rows;

    @Setup(Level.Trial)
    public void open() throws Exception {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        }
        onnx =
                OnnxModel.open(
                        BenchSpec.modelLocation(model),
                        OnnxOptions.DEFAULT.withThreads(intraOpThreads, 1));
        if (!onnx.descriptor().features().equals(CardFeatures.NAMES)) {
            onnx.close();
            throw new IllegalStateException(
                    "model "
                            + model
                            + " expects features "
                            + onnx.descriptor().features()
                            + "; the benchmark's rows are "
                            + CardFeatures.NAMES);
        }
        rows = featureRows(batchSize);
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        if (onnx != null) {
            onnx.close();
            onnx = null;
        }
    }

    /** One caller's batch: its own input buffer (concurrent calls must not share one). */
    @State(Scope.Thread)
    public static class Batch {
        FloatBuffer input;
        float[] scores;

        @Setup(Level.Trial)
        public void fill(ModelThroughputBenchmark benchmark) {
            input = benchmark.onnx.newInputBuffer(benchmark.batchSize);
            for (float[] row : benchmark.rows) {
                input.put(row);
            }
            scores = new float[benchmark.batchSize];
        }
    }

    /** Scores one batch; returns a score so that JMH keeps the call alive. */
    @Benchmark
    public float scoreBatch(Batch batch) throws Exception {
        onnx.score(batch.input, batchSize, batch.scores);
        return batch.scores[batchSize - 1];
    }

    /**
     * {@code n} feature rows of generated transactions, taken after {@link #HISTORY_TRANSACTIONS}
     * transactions have filled the card histories; the same for every run.
     */
    static float[][] featureRows(int n) {
        TransactionGenerator generator =
                new TransactionGenerator(TransactionGenerator.Settings.defaults(SEED));
        FeatureRows rows = new FeatureRows();
        float[][] out = new float[n][];
        for (int i = 0; i < HISTORY_TRANSACTIONS + n; i++) {
            Transaction txn = generator.next().transaction();
            float[] features = rows.next(txn);
            if (i >= HISTORY_TRANSACTIONS) {
                out[i - HISTORY_TRANSACTIONS] = features;
            }
        }
        return out;
    }
}
