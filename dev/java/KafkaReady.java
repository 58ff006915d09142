// KafkaReady exits 0 when the Kafka broker at the given bootstrap address
// answers a real metadata request (describe cluster and list topics) through
// the Kafka AdminClient, and 1 otherwise. dev/services.sh uses it to wait for
// the broker.
//
// Usage: java -cp CLASSPATH KafkaReady BOOTSTRAP [TIMEOUT_MS]
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

public final class KafkaReady {
    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: KafkaReady BOOTSTRAP [TIMEOUT_MS]");
            System.exit(2);
        }
        final int timeout = args.length > 1 ? Integer.parseInt(args[1]) : 5000;
        final Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, timeout);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, timeout);
        try (Admin admin = Admin.create(p)) {
            final int nodes = admin.describeCluster().nodes().get(timeout, TimeUnit.MILLISECONDS).size();
            final int topics = admin.listTopics().names().get(timeout, TimeUnit.MILLISECONDS).size();
            System.out.println("kafka ready: " + nodes + " broker(s), " + topics + " topic(s)");
        } catch (Exception e) {
            System.err.println("kafka not ready: " + e);
            System.exit(1);
        }
    }
}
