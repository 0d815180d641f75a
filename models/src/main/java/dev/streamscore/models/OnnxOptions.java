package dev.streamscore.models;

import java.io.Serializable;

/**
 * How an ONNX Runtime session is created.
 *
 * @param intraOpThreads threads one model call may use; 1 fits one task slot per core
 * @param interOpThreads threads for running independent graph nodes in parallel
 */
public record OnnxOptions(int intraOpThreads, int interOpThreads) implements Serializable {

    /** One thread each: Flink's parallelism already uses the cores. */
    public static final OnnxOptions DEFAULT = new OnnxOptions(1, 1);

    public OnnxOptions {
        if (intraOpThreads < 1) {
            throw new IllegalArgumentException(
                    "intra-op threads must be at least 1, got " + intraOpThreads);
        }
        if (interOpThreads < 1) {
            throw new IllegalArgumentException(
                    "inter-op threads must be at least 1, got " + interOpThreads);
        }
    }
}
