package dev.streamscore.pipeline;

import java.util.List;
import java.util.stream.Collectors;

/** A pipeline file that cannot run: every problem found in it, each with its line. */
public final class PipelineException extends Exception {

    private static final long serialVersionUID = 1L;

    private final List<Problem> problems;

    public PipelineException(List<Problem> problems) {
        super(describe(problems));
        this.problems = List.copyOf(problems);
    }

    public List<Problem> problems() {
        return problems;
    }

    private static String describe(List<Problem> problems) {
        return problems.size()
                + (problems.size() == 1 ? " problem" : " problems")
                + " in the pipeline file:\n"
                + problems.stream().map(Problem::toString).collect(Collectors.joining("\n"));
    }
}
