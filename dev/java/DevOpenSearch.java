// DevOpenSearch runs one OpenSearch node in this JVM for moontide's local
// services (dev/services.sh). The node binds 127.0.0.1 only, speaks plain
// HTTP (no security plugin is on the classpath), keeps its data under the
// given home directory and ignores disk watermarks, so a nearly full disk
// does not turn test indexes read-only.
//
// Usage: java -cp CLASSPATH DevOpenSearch HOME HTTP_PORT TRANSPORT_PORT
//
// The process runs until it receives SIGTERM/SIGINT, then closes the node.
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import org.codelibs.opensearch.runner.OpenSearchRunner;

public final class DevOpenSearch {
    private static final String LOG4J2 = String.join("\n",
            "status = error",
            "appender.console.type = Console",
            "appender.console.name = console",
            "appender.console.layout.type = PatternLayout",
            "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %m%n",
            "rootLogger.level = info",
            "rootLogger.appenderRef.console.ref = console",
            "logger.deprecation.name = org.opensearch.deprecation",
            "logger.deprecation.level = error",
            "");

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: DevOpenSearch HOME HTTP_PORT TRANSPORT_PORT");
            System.exit(2);
        }
        final Path home = Paths.get(args[0]).toAbsolutePath();
        final String httpPort = args[1];
        final String transportPort = args[2];
        final Path conf = home.resolve("node_1").resolve("config");
        Files.createDirectories(conf);
        Files.writeString(conf.resolve("log4j2.properties"), LOG4J2);

        final OpenSearchRunner runner = new OpenSearchRunner();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                System.err.println("closing opensearch: " + e);
            }
        }));
        runner.onBuild((index, settings) -> {
            settings.put("network.host", "127.0.0.1");
            settings.put("http.port", httpPort);
            settings.put("transport.port", transportPort);
            settings.put("discovery.type", "single-node");
            settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
            settings.put("action.destructive_requires_name", "false");
        });
        runner.build("-basePath", home.toString(), "-numOfNode", "1", "-clusterName", "moontide-dev");
        runner.ensureYellow();
        System.out.println("moontide-dev: opensearch ready on http://127.0.0.1:" + httpPort);
        while (!runner.isClosed()) {
            Thread.sleep(1000);
        }
    }
}
