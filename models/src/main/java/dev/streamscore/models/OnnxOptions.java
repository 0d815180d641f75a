package dev.streamscore.models;

import ai.onnxruntime.OrtLoggingLevel;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * How an ONNX Runtime session is created and called. Immutable; start from {@link #DEFAULT} and
 * change what you need:
 *
 * <pre>{@code
 * OnnxOptions options =
 *         OnnxOptions.DEFAULT
 *                 .withExecutionProvider(ExecutionProvider.AUTO, 0)
 *                 .withPadToSizes(1, 8, 32, 128, 256);
 * }</pre>
 *
 * @param intraOpThreads threads one model call may use. Default 1: a TaskManager already runs one
 *     task slot per core, each with its own scoring thread, so more threads per call only compete
 *     with the other slots (and with RocksDB and serialization) for the same cores.
 * @param interOpThreads threads for running independent graph nodes in parallel; default 1
 * @param executionProvider where the model runs; default {@link ExecutionProvider#CPU}
 * @param deviceId the GPU the CUDA and TensorRT providers use; default 0, ignored on the CPU
 * @param padToSizes batch sizes ONNX Runtime is called with, strictly increasing; empty (default)
 *     calls it with exactly the rows given. Otherwise a batch of n rows is padded with zero rows up
 *     to the smallest listed size that holds it, and a batch larger than the largest size is scored
 *     in calls of the largest size; so only listed shapes reach the model, as providers that
 *     compile per input shape (TensorRT) prefer.
 * @param sessionLogLevel least severe ONNX Runtime message the session prints to stderr while it is
 *     created and optimised; default {@link LogLevel#WARNING} (e.g. nodes a GPU provider cannot
 *     run)
 * @param runLogLevel least severe ONNX Runtime message a model call prints to stderr; default
 *     {@link LogLevel#FATAL}: a failed call's ERROR line repeats word for word the message of the
 *     exception {@link OnnxModel#score} throws, which the caller reports (dead letters, logs)
 * @param profilePrefix where ONNX Runtime writes its profile of the session (every node's time in
 *     every call, in Chrome trace JSON): a path prefix, to which ONNX Runtime adds {@code
 *     _<timestamp>.json} when the session closes; null (default) profiles nothing, and an empty or
 *     blank prefix is taken as null. Profiling slows every call; for measuring where time goes, not
 *     for production.
 */
public record OnnxOptions(
        int intraOpThreads,
        int interOpThreads,
        ExecutionProvider executionProvider,
        int deviceId,
        List<Integer> padToSizes,
        LogLevel sessionLogLevel,
        LogLevel runLogLevel,
        String profilePrefix)
        implements Serializable {

    /**
     * One thread each on the CPU, no padding, warnings at load, no per-call stderr lines, no
     * profiling.
     */
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
        if (executionProvider == null) {
            throw new IllegalArgumentException(
                    "execution provider must be one of cpu, cuda, tensorrt, auto, found none");
        }
        if (deviceId < 0) {
            throw new IllegalArgumentException("GPU device id must be 0 or more, got " + deviceId);
        }
        padToSizes = List.copyOf(padToSizes == null ? List.of() : padToSizes);
        for (int i = 0; i < padToSizes.size(); i++) {
            int size = padToSizes.get(i);
            if (size < 1 || (i > 0 && size <= padToSizes.get(i - 1))) {
                throw new IllegalArgumentException(
                        "pad-to sizes must be positive and strictly increasing, found "
                                + padToSizes);
            }
        }
        if (sessionLogLevel == null || runLogLevel == null) {
            throw new IllegalArgumentException(
                    "ONNX Runtime log levels must be set, found session="
                            + sessionLogLevel
                            + " run="
                            + runLogLevel);
        }
        if (profilePrefix != null && profilePrefix.isBlank()) {
            profilePrefix = null;
        }
        if (profilePrefix != null && Path.of(profilePrefix).getFileName() == null) {
            throw new IllegalArgumentException(
                    "ONNX Runtime profile prefix must end in a file name prefix, found '"
                            + profilePrefix
                            + "'");
        }
    }

    /** As the canonical constructor, without profiling. */
    public OnnxOptions(
            int intraOpThreads,
            int interOpThreads,
            ExecutionProvider executionProvider,
            int deviceId,
            List<Integer> padToSizes,
            LogLevel sessionLogLevel,
            LogLevel runLogLevel) {
        this(
                intraOpThreads,
                interOpThreads,
                executionProvider,
                deviceId,
                padToSizes,
                sessionLogLevel,
                runLogLevel,
                null);
    }

    /** The given threads on the CPU, with every other option at its default. */
    public OnnxOptions(int intraOpThreads, int interOpThreads) {
        this(
                intraOpThreads,
                interOpThreads,
                ExecutionProvider.CPU,
                0,
                List.of(),
                LogLevel.WARNING,
                LogLevel.FATAL);
    }

    public OnnxOptions withThreads(int intraOp, int interOp) {
        return new OnnxOptions(
                intraOp,
                interOp,
                executionProvider,
                deviceId,
                padToSizes,
                sessionLogLevel,
                runLogLevel,
                profilePrefix);
    }

    public OnnxOptions withExecutionProvider(ExecutionProvider provider, int device) {
        return new OnnxOptions(
                intraOpThreads,
                interOpThreads,
                provider,
                device,
                padToSizes,
                sessionLogLevel,
                runLogLevel,
                profilePrefix);
    }

    /** Padding to the given batch sizes; none turns padding off. */
    public OnnxOptions withPadToSizes(int... sizes) {
        return withPadToSizes(Arrays.stream(sizes).boxed().toList());
    }

    public OnnxOptions withPadToSizes(List<Integer> sizes) {
        return new OnnxOptions(
                intraOpThreads,
                interOpThreads,
                executionProvider,
                deviceId,
                sizes,
                sessionLogLevel,
                runLogLevel,
                profilePrefix);
    }

    public OnnxOptions withLogLevels(LogLevel session, LogLevel run) {
        return new OnnxOptions(
                intraOpThreads,
                interOpThreads,
                executionProvider,
                deviceId,
                padToSizes,
                session,
                run,
                profilePrefix);
    }

    /**
     * Profiling of the session into {@code <prefix>_<timestamp>.json} (see {@link #profilePrefix}),
     * or none for null or blank.
     */
    public OnnxOptions withProfilePrefix(String prefix) {
        return new OnnxOptions(
                intraOpThreads,
                interOpThreads,
                executionProvider,
                deviceId,
                padToSizes,
                sessionLogLevel,
                runLogLevel,
                prefix);
    }

    /**
     * Rows ONNX Runtime is given for a batch of {@code rows}: {@code rows} itself without padding,
     * else the smallest listed size that holds them, else a whole number of the largest size.
     */
    public int paddedRows(int rows) {
        if (rows < 1) {
            throw new IllegalArgumentException("rows must be at least 1, got " + rows);
        }
        if (padToSizes.isEmpty()) {
            return rows;
        }
        for (int size : padToSizes) {
            if (size >= rows) {
                return size;
            }
        }
        int largest = largestCall();
        return Math.multiplyExact((rows + largest - 1) / largest, largest);
    }

    /** Most rows one ONNX Runtime call is given; {@link Integer#MAX_VALUE} without padding. */
    int largestCall() {
        return padToSizes.isEmpty() ? Integer.MAX_VALUE : padToSizes.get(padToSizes.size() - 1);
    }

    /** Severity of ONNX Runtime's own messages, which it prints to stderr. */
    public enum LogLevel {
        VERBOSE(OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE),
        INFO(OrtLoggingLevel.ORT_LOGGING_LEVEL_INFO),
        WARNING(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING),
        ERROR(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR),
        FATAL(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);

        private final OrtLoggingLevel ort;

        LogLevel(OrtLoggingLevel ort) {
            this.ort = ort;
        }

        OrtLoggingLevel ort() {
            return ort;
        }
    }
}
