package dev.streamscore.test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A certificate authority and a broker certificate for {@code localhost} made at test time with the
 * JDK's own {@code keytool}, as PKCS12 stores: the broker's key store, and a trust store that holds
 * only the test CA. Valid for two days; nothing is committed.
 *
 * <pre>{@code
 * TestCertificates tls = TestCertificates.create(tempDir);
 * props.put("ssl.truststore.location", tls.truststore().toString());
 * }</pre>
 */
record TestCertificates(Path keystore, Path truststore, String storePassword) {

    static TestCertificates create(Path dir) throws Exception {
        String password = "test-store-" + Long.toHexString(System.nanoTime());
        Path ca = dir.resolve("ca.p12");
        Path caPem = dir.resolve("ca.pem");
        Path keystore = dir.resolve("broker.p12");
        Path csr = dir.resolve("broker.csr");
        Path brokerPem = dir.resolve("broker.pem");
        Path truststore = dir.resolve("truststore.p12");
        keytool(
                "-genkeypair",
                "-alias",
                "ca",
                "-dname",
                "CN=streamscore-test-ca",
                "-keyalg",
                "RSA",
                "-keysize",
                "2048",
                "-validity",
                "2",
                "-ext",
                "bc:c",
                "-keystore",
                ca.toString(),
                "-storetype",
                "PKCS12",
                "-storepass",
                password,
                "-keypass",
                password);
        keytool(
                "-exportcert",
                "-alias",
                "ca",
                "-keystore",
                ca.toString(),
                "-storepass",
                password,
                "-rfc",
                "-file",
                caPem.toString());
        keytool(
                "-importcert",
                "-alias",
                "ca",
                "-file",
                caPem.toString(),
                "-keystore",
                truststore.toString(),
                "-storetype",
                "PKCS12",
                "-storepass",
                password,
                "-noprompt");
        keytool(
                "-genkeypair",
                "-alias",
                "broker",
                "-dname",
                "CN=localhost",
                "-keyalg",
                "RSA",
                "-keysize",
                "2048",
                "-validity",
                "2",
                "-keystore",
                keystore.toString(),
                "-storetype",
                "PKCS12",
                "-storepass",
                password,
                "-keypass",
                password);
        keytool(
                "-certreq",
                "-alias",
                "broker",
                "-keystore",
                keystore.toString(),
                "-storepass",
                password,
                "-file",
                csr.toString());
        keytool(
                "-gencert",
                "-alias",
                "ca",
                "-keystore",
                ca.toString(),
                "-storepass",
                password,
                "-infile",
                csr.toString(),
                "-outfile",
                brokerPem.toString(),
                "-rfc",
                "-validity",
                "2",
                "-ext",
                "san=dns:localhost,ip:127.0.0.1");
        keytool(
                "-importcert",
                "-alias",
                "ca",
                "-file",
                caPem.toString(),
                "-keystore",
                keystore.toString(),
                "-storepass",
                password,
                "-noprompt");
        keytool(
                "-importcert",
                "-alias",
                "broker",
                "-file",
                brokerPem.toString(),
                "-keystore",
                keystore.toString(),
                "-storepass",
                password,
                "-noprompt");
        return new TestCertificates(keystore, truststore, password);
    }

    private static void keytool(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Path output = Files.createTempFile("keytool", ".out");
        try {
            Process process =
                    new ProcessBuilder(command)
                            .redirectErrorStream(true)
                            .redirectOutput(output.toFile())
                            .start();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException("keytool " + args[0] + " did not end in 60 s");
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException(
                        "keytool " + args[0] + " failed: " + Files.readString(output));
            }
        } finally {
            Files.deleteIfExists(output);
        }
    }
}
