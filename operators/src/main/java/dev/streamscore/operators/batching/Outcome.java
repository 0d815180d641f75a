package dev.streamscore.operators.batching;

import org.apache.flink.util.OutputTag;
import org.apache.flink.util.Preconditions;

/**
 * What an element the model could not score becomes, as its {@link BatchFunction} decides: a
 * regular output (say, a fallback score) or a record on a side output (say, a dead letter).
 *
 * <pre>{@code
 * return Outcome.sideOutput(DeadLetters.TAG, deadLetter);
 * }</pre>
 *
 * @param <OUT> the operator's output type
 */
public final class Outcome<OUT> {

    final OUT output;
    final OutputTag<Object> tag;
    final Object sideValue;

    private Outcome(OUT output, OutputTag<Object> tag, Object sideValue) {
        this.output = output;
        this.tag = tag;
        this.sideValue = sideValue;
    }

    /** An element of the main output. */
    public static <OUT> Outcome<OUT> output(OUT value) {
        Preconditions.checkArgument(value != null, "an outcome's output must be set, found null");
        return new Outcome<>(value, null, null);
    }

    /** A record on the side output {@code tag}. */
    @SuppressWarnings("unchecked")
    public static <OUT, S> Outcome<OUT> sideOutput(OutputTag<S> tag, S value) {
        Preconditions.checkArgument(tag != null, "a side output's tag must be set, found null");
        Preconditions.checkArgument(value != null, "a side output's value must be set, found null");
        return new Outcome<>(null, (OutputTag<Object>) (OutputTag<?>) tag, value);
    }
}
