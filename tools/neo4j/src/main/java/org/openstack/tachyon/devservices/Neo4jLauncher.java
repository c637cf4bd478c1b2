/*
 * Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain
 * a copy of the License at
 *
 *      http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 * WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
 * License for the specific language governing permissions and limitations
 * under the License.
 */
package org.openstack.tachyon.devservices;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.QueryExecutionException;

/**
 * Runs an embedded Neo4j Community DBMS with its Bolt connector on loopback.
 *
 * Arguments: HOME_DIR CONF_FILE PASSWORD_FILE.
 * CONF_FILE is a neo4j.conf written by tools/devservices.py (it sets the
 * loopback Bolt address, memory and log retention). The password of the
 * "neo4j" user is read from PASSWORD_FILE so that it never shows on a
 * command line. "READY" is printed once Bolt accepts connections; SIGTERM
 * shuts the DBMS down cleanly.
 */
public final class Neo4jLauncher {

    private Neo4jLauncher() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println(
                "usage: Neo4jLauncher HOME_DIR CONF_FILE PASSWORD_FILE");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        Path conf = Path.of(args[1]).toAbsolutePath();
        String password = Files.readString(Path.of(args[2])).strip();

        DatabaseManagementService dbms =
            new DatabaseManagementServiceBuilder(home)
                .loadPropertiesFromFile(conf)
                .build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            dbms.shutdown();
            stopped.countDown();
        }));

        GraphDatabaseService system = dbms.database("system");
        try {
            system.executeTransactionally(
                "ALTER USER neo4j SET PASSWORD $password "
                + "CHANGE NOT REQUIRED",
                Map.of("password", password));
        } catch (QueryExecutionException e) {
            // A restart on the same data: the password is set already.
            if (!String.valueOf(e.getMessage()).contains(
                    "Old password and new password cannot be the same")) {
                throw e;
            }
        }

        System.out.println("READY");
        System.out.flush();
        stopped.await();
    }
}
