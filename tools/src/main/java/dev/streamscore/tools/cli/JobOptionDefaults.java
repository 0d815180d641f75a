package dev.streamscore.tools.cli;

import dev.streamscore.jobs.JobArguments;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.operators.inference.InferenceOptions;
import java.util.Map;
import org.apache.flink.configuration.ConfigOption;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Defaults of a tool's own flags that set a job option (the benchmark's {@code --batch-size},
 * {@code --max-wait}, ...): the job option's default, read from its definition, so a tool never
 * measures other settings than the job runs with. Flags without such an option keep their {@code
 * defaultValue}.
 *
 * <pre>{@code
 * @Command(name = "bench", defaultValueProvider = JobOptionDefaults.class)
 * }</pre>
 */
public final class JobOptionDefaults implements IDefaultValueProvider {

    /** Tool flags and the job option each stands for. */
    static final Map<String, ConfigOption<?>> FLAGS =
            Map.of(
                    "--batch-size", BatchingOptions.BATCH_SIZE,
                    "--max-wait", BatchingOptions.MAX_WAIT,
                    "--in-flight", BatchingOptions.MAX_IN_FLIGHT,
                    "--parallelism", ScoringOptions.PARALLELISM,
                    "--intra-op-threads", InferenceOptions.INTRA_OP_THREADS);

    @Override
    public String defaultValue(ArgSpec arg) {
        if (arg instanceof OptionSpec option) {
            ConfigOption<?> jobOption = FLAGS.get(option.longestName());
            if (jobOption != null) {
                return JobArguments.defaultText(jobOption);
            }
        }
        return null;
    }
}
