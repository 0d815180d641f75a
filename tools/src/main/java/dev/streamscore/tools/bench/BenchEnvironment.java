package dev.streamscore.tools.bench;

import ai.onnxruntime.OrtEnvironment;
import java.time.LocalDate;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.kafka.common.utils.AppInfoParser;

/** The machine and versions a benchmark ran on, as every table and figure states them. */
final class BenchEnvironment {

    private BenchEnvironment() {}

    static BenchResults.Environment describe(String command, Map<String, String> jobOptions) {
        Map<String, String> versions = new LinkedHashMap<>();
        versions.put("Flink", EnvironmentInformation.getVersion());
        versions.put("Kafka", AppInfoParser.getVersion());
        versions.put("ONNX Runtime", OrtEnvironment.getEnvironment().getVersion());
        versions.put(
                "Avro",
                String.valueOf(
                        org.apache.avro.Schema.class.getPackage().getImplementationVersion()));
        versions.put("state backend", jobOptions.getOrDefault("state.backend.type", "rocksdb"));
        versions.put("OS", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        return new BenchResults.Environment(
                Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.name")
                        + " "
                        + System.getProperty("java.version")
                        + ", heap "
                        + Runtime.getRuntime().maxMemory() / (1 << 20)
                        + " MiB",
                versions,
                command,
                LocalDate.now().toString());
    }
}
