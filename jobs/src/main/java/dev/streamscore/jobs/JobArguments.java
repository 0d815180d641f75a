package dev.streamscore.jobs;

import dev.streamscore.jobs.config.ScoringOptions;
import java.io.File;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.YamlParserUtils;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * The job's options on a command line: {@code --config FILE} (YAML, any {@link ScoringOptions} key)
 * and {@code --<key> value} for each option, the latter winning. One definition per option, so the
 * job jar, {@code ./streamscore run} and {@code ./streamscore demo} accept the same flags.
 *
 * <pre>{@code
 * Configuration conf = JobArguments.parse(new String[] {"--batch-size", "64"});
 * }</pre>
 */
public final class JobArguments {

    private static final String CONFIG = "--config";

    private JobArguments() {}

    /** Adds {@code --config} and one option per {@link ScoringOptions} entry to {@code spec}. */
    public static void addTo(CommandSpec spec) {
        spec.addOption(
                OptionSpec.builder(CONFIG)
                        .paramLabel("FILE")
                        .type(File.class)
                        .description(
                                "YAML file of job options (keys as the flags below, without --).")
                        .build());
        for (ConfigOption<?> option : ScoringOptions.all()) {
            spec.addOption(
                    OptionSpec.builder("--" + option.key())
                            .paramLabel(paramLabel(option))
                            .type(String.class)
                            .description(
                                    description(option) + " Default: " + defaultText(option) + ".")
                            .build());
        }
    }

    /** The options given in {@code result}, over those of its {@code --config} file. */
    public static Configuration toConfiguration(ParseResult result) {
        Map<String, String> values = new LinkedHashMap<>();
        OptionSpec config = result.matchedOption(CONFIG);
        if (config != null) {
            values.putAll(readYaml(config.getValue()));
        }
        for (ConfigOption<?> option : ScoringOptions.all()) {
            OptionSpec given = result.matchedOption("--" + option.key());
            if (given != null) {
                values.put(option.key(), given.getValue());
            }
        }
        return Configuration.fromMap(values);
    }

    /** Parses a job command line; a mistake throws {@link IllegalArgumentException} saying what. */
    public static Configuration parse(String[] args) {
        CommandSpec spec = CommandSpec.create().name("streamscore-job");
        addTo(spec);
        try {
            return toConfiguration(new CommandLine(spec).parseArgs(args));
        } catch (CommandLine.ParameterException e) {
            throw new IllegalArgumentException(
                    e.getMessage() + "; options are " + spec.optionsMap().keySet(), e);
        }
    }

    /** The option's one-line description as plain text. */
    public static String description(ConfigOption<?> option) {
        return new org.apache.flink.configuration.description.HtmlFormatter()
                .format(option.description())
                .replaceAll("<[^>]*>", "");
    }

    public static String defaultText(ConfigOption<?> option) {
        Object value = option.defaultValue();
        if (value == null || (value instanceof java.util.List<?> list && list.isEmpty())) {
            return "(none)";
        }
        if (value instanceof java.util.List<?> list) {
            return list.stream()
                    .map(String::valueOf)
                    .collect(java.util.stream.Collectors.joining(";"));
        }
        if (value instanceof java.time.Duration d) {
            return org.apache.flink.util.TimeUtils.formatWithHighestUnit(d);
        }
        return String.valueOf(value);
    }

    private static String paramLabel(ConfigOption<?> option) {
        Object value = option.defaultValue();
        if (value instanceof java.time.Duration) {
            return "DURATION";
        }
        if (value instanceof Integer) {
            return "N";
        }
        return "VALUE";
    }

    private static Map<String, String> readYaml(File file) {
        if (!file.isFile()) {
            throw new IllegalArgumentException("config file " + file + " does not exist");
        }
        Map<String, Object> yaml;
        try {
            yaml = YamlParserUtils.loadYamlFile(file);
        } catch (Exception e) {
            throw new IllegalArgumentException(
                    "cannot read config file " + file + ": " + e.getMessage(), e);
        }
        Map<String, String> flat = new LinkedHashMap<>();
        flatten("", yaml, flat);
        for (String key : flat.keySet()) {
            boolean known = ScoringOptions.all().stream().anyMatch(o -> o.key().equals(key));
            if (!known) {
                throw new IllegalArgumentException(
                        "config file " + file + " sets unknown option '" + key + "'");
            }
        }
        return flat;
    }

    @SuppressWarnings("unchecked")
    private static void flatten(String prefix, Map<String, Object> map, Map<String, String> out) {
        for (Map.Entry<String, Object> e : map.entrySet()) {
            String key = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            if (e.getValue() instanceof Map<?, ?> nested) {
                flatten(key, (Map<String, Object>) nested, out);
            } else {
                out.put(key, String.valueOf(e.getValue()));
            }
        }
    }
}
