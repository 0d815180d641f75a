package dev.streamscore.operators.batching;

/**
 * In which order {@link BatchingInferenceOperator} emits its results. In both modes a watermark is
 * emitted only after every result of the elements that arrived before it, and a result is never
 * emitted before a watermark that arrived before its element (as Flink's {@code AsyncWaitOperator}
 * does), so no element changes from on time to late or back.
 *
 * <pre>{@code
 * InferenceSettings settings = InferenceSettings.defaults("bundled:gbdt")
 *         .withOutputMode(OutputMode.ORDERED);
 * }</pre>
 */
public enum OutputMode {

    /**
     * Results in the order the elements arrived. A cache hit, or an element of a batch that
     * finished early, waits behind every earlier element still being scored, including one whose
     * batch is being retried.
     */
    ORDERED,

    /**
     * Each result as soon as it is known, within the bounds set by watermarks: a cache hit leaves
     * at once, and a batch that is retried does not hold back the batches after it.
     */
    UNORDERED
}
