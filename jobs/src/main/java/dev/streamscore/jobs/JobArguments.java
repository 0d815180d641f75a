package dev.streamscore.jobs;

import dev.streamscore.jobs.config.KafkaClientSettings;
import dev.streamscore.jobs.config.ScoringOptions;
import java.io.File;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.YamlParserUtils;
import org.apache.flink.configuration.description.HtmlFormatter;
import org.apache.flink.util.ParameterTool;
import org.apache.flink.util.TimeUtils;

/**
 * The job's options on a command line: {@code --config FILE} (YAML, any {@link
 * ScoringOptions#all()} key or {@code kafka.<property>}) and {@code --<key> value} for each option
 * and for Kafka client properties ({@code --kafka.security.protocol SASL_SSL}), the latter winning.
 * Parsed with Flink's own {@link ParameterTool}, so the job jar needs no command-line library; the
 * {@code ./streamscore} tools offer the same options through theirs and end in {@link #merge}, so
 * every command that runs the job accepts the same flags and files with the same checks.
 *
 * <pre>{@code
 * Configuration conf = JobArguments.parse(new String[] {"--batch-size", "64"});
 * }</pre>
 */
public final class JobArguments {

    private static final java.util.regex.Pattern OPTION_NAME =
            java.util.regex.Pattern.compile("[a-z][a-z0-9.-]{0,99}");

    /** The option naming a YAML file of job options. */
    public static final String CONFIG = "config";

    private JobArguments() {}

    /** Parses a job command line; a mistake throws {@link IllegalArgumentException} saying what. */
    public static Configuration parse(String[] args) {
        Map<String, String> given;
        try {
            given = new LinkedHashMap<>(ParameterTool.fromArgs(args).toMap());
        } catch (IllegalArgumentException e) {
            // Not e's message, nor its cause: ParameterTool's quotes every argument, and a value
            // may be a secret.
            throw new IllegalArgumentException(
                    "cannot read the command line: expected --<option> <value> pairs (a value"
                            + " with spaces in quotes); options are "
                            + flags());
        }
        String file = given.remove(CONFIG);
        for (Map.Entry<String, String> e : given.entrySet()) {
            if (!isOption(e.getKey())) {
                // Echo what looks like an option name only: a value that starts with '-' (a
                // password, say) is read as a key.
                String shown =
                        OPTION_NAME.matcher(e.getKey()).matches()
                                ? "'--" + e.getKey() + "'"
                                : "(an argument that is not an option name, not shown)";
                throw new IllegalArgumentException(
                        "unknown option " + shown + "; options are " + flags());
            }
            if (e.getValue() == null || e.getValue().equals("__NO_VALUE_KEY")) {
                throw new IllegalArgumentException("option '--" + e.getKey() + "' needs a value");
            }
        }
        return merge(file == null ? null : new File(file), given);
    }

    /**
     * The options of {@code configFile} (when not null), overridden by {@code flags} (option keys
     * without {@code --}), as a configuration the job reads with {@link
     * dev.streamscore.jobs.config.ScoringConfig#from}.
     */
    public static Configuration merge(File configFile, Map<String, String> flags) {
        Map<String, String> values = new LinkedHashMap<>();
        if (configFile != null) {
            values.putAll(readYaml(configFile));
        }
        values.putAll(flags);
        return Configuration.fromMap(values);
    }

    /** The option's one-line description as plain text. */
    public static String description(ConfigOption<?> option) {
        return new HtmlFormatter().format(option.description()).replaceAll("<[^>]*>", "");
    }

    /** The option's default as a user writes it ({@code 10 ms}, {@code 1;8}, {@code (none)}). */
    public static String defaultText(ConfigOption<?> option) {
        Object value = option.defaultValue();
        if (value == null || (value instanceof List<?> list && list.isEmpty())) {
            return "(none)";
        }
        if (value instanceof List<?> list) {
            return list.stream().map(String::valueOf).collect(Collectors.joining(";"));
        }
        if (value instanceof Duration d) {
            return TimeUtils.formatWithHighestUnit(d);
        }
        return String.valueOf(value);
    }

    /** Whether {@code key} is a job option or a Kafka client property ({@code kafka.<name>}). */
    private static boolean isOption(String key) {
        return KafkaClientSettings.isClientProperty(key)
                || ScoringOptions.all().stream()
                        .anyMatch(
                                o ->
                                        o.key().equals(key)
                                                || java.util.stream.StreamSupport.stream(
                                                                o.fallbackKeys().spliterator(),
                                                                false)
                                                        .anyMatch(k -> k.getKey().equals(key)));
    }

    private static Set<String> flags() {
        Set<String> flags = new TreeSet<>();
        flags.add("--" + CONFIG);
        flags.add("--" + KafkaClientSettings.KEY_PREFIX + "<property>");
        ScoringOptions.all().forEach(o -> flags.add("--" + o.key()));
        return flags;
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
            if (!isOption(key)) {
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
