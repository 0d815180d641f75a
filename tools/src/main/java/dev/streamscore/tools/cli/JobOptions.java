package dev.streamscore.tools.cli;

import dev.streamscore.jobs.JobArguments;
import dev.streamscore.jobs.config.KafkaClientSettings;
import dev.streamscore.jobs.config.ScoringOptions;
import java.io.File;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.ISetter;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.UnmatchedArgsBinding;
import picocli.CommandLine.ParseResult;

/**
 * The job's options as picocli options, for the {@code ./streamscore} commands that run the job
 * here ({@code run}, {@code demo}; {@code cluster submit} passes its arguments to the job as they
 * are): {@code --config FILE} and one {@code --<key>} per {@link ScoringOptions#all()} entry, with
 * its description and default in the help. What they give is merged by {@link JobArguments#merge},
 * as the job jar's own command line is.
 *
 * <pre>{@code
 * JobOptions.addTo(commandLine.getSubcommands().get("run").getCommandSpec());
 * Configuration options = JobOptions.toConfiguration(spec.commandLine().getParseResult());
 * }</pre>
 */
public final class JobOptions {

    private static final String CONFIG = "--" + JobArguments.CONFIG;

    private JobOptions() {}

    /**
     * Adds {@code --config}, one option per job option and {@code --kafka.<property> VALUE} (any
     * Kafka client property, which picocli cannot list) to {@code spec}.
     */
    public static void addTo(CommandSpec spec) {
        addTo(spec, ScoringOptions.all());
    }

    /** As {@link #addTo(CommandSpec)}, with only {@code options} of the job's. */
    public static void addTo(CommandSpec spec, List<ConfigOption<?>> options) {
        spec.addUnmatchedArgsBinding(
                UnmatchedArgsBinding.forStringArrayConsumer(
                        new ISetter() {
                            @Override
                            public <T> T set(T value) {
                                return null; // read back from the parse result
                            }
                        }));
        spec.usageMessage()
                .footer(
                        "",
                        "Any Kafka client property is an option too: --kafka.<property> VALUE (both"
                                + " clients), --kafka.consumer.<property> or"
                                + " --kafka.producer.<property> (one), over --kafka-config. See the"
                                + " README's \"Secured Kafka\".");
        spec.addOption(
                OptionSpec.builder(CONFIG)
                        .paramLabel("FILE")
                        .type(File.class)
                        .description(
                                "YAML file of job options (keys as the flags below, without --).")
                        .build());
        for (ConfigOption<?> option : options) {
            spec.addOption(
                    OptionSpec.builder("--" + option.key())
                            .paramLabel(paramLabel(option))
                            .type(String.class)
                            .description(
                                    JobArguments.description(option)
                                            + " Default: "
                                            + JobArguments.defaultText(option)
                                            + ".")
                            .build());
        }
    }

    /**
     * The job options given in {@code result}, over those of its {@code --config} file.
     *
     * @throws IllegalArgumentException for an argument that is neither a job option nor {@code
     *     --kafka.<property> VALUE}
     */
    public static Configuration toConfiguration(ParseResult result) {
        Map<String, String> flags = new LinkedHashMap<>();
        List<String> rest = result.unmatched();
        for (int i = 0; i < rest.size(); i++) {
            String arg = rest.get(i);
            String prefix = "--" + KafkaClientSettings.KEY_PREFIX;
            if (!arg.startsWith(prefix) || arg.length() == prefix.length()) {
                // Echo what looks like an option only: a stray value may be a secret.
                String shown =
                        arg.matches("--?[A-Za-z][A-Za-z0-9.-]{0,99}")
                                ? "'" + arg + "'"
                                : "(an argument that is not an option name, not shown)";
                throw new IllegalArgumentException(
                        "Unknown option: "
                                + shown
                                + "; a Kafka client property is given as --kafka.<property>"
                                + " <value>");
            }
            int eq = arg.indexOf('=');
            if (eq > 0) {
                flags.put(arg.substring(2, eq), arg.substring(eq + 1));
            } else if (i + 1 < rest.size()) {
                flags.put(arg.substring(2), rest.get(++i));
            } else {
                throw new IllegalArgumentException("option '" + arg + "' needs a value");
            }
        }
        for (ConfigOption<?> option : ScoringOptions.all()) {
            OptionSpec given = result.matchedOption("--" + option.key());
            if (given != null) {
                flags.put(option.key(), given.getValue());
            }
        }
        OptionSpec config = result.matchedOption(CONFIG);
        return JobArguments.merge(config == null ? null : config.getValue(), flags);
    }

    private static String paramLabel(ConfigOption<?> option) {
        Object value = option.defaultValue();
        if (value instanceof Duration) {
            return "DURATION";
        }
        if (value instanceof Integer) {
            return "N";
        }
        return "VALUE";
    }
}
