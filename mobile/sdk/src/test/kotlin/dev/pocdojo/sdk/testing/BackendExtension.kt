package dev.pocdojo.sdk.testing

import org.junit.jupiter.api.extension.ExtensionContext
import org.junit.jupiter.api.extension.ParameterContext
import org.junit.jupiter.api.extension.ParameterResolver

/**
 * Gives tests (constructor, `@BeforeAll` or test method parameters of type [Backend]) the one real
 * backend of this test run: started by the first test that asks, kept in the root context's store and
 * closed by JUnit when the run ends, whatever the outcome. A JVM shutdown hook stops it too if the run
 * is interrupted.
 */
class BackendExtension : ParameterResolver {
    override fun supportsParameter(parameterContext: ParameterContext, extensionContext: ExtensionContext): Boolean =
        parameterContext.parameter.type == Backend::class.java

    override fun resolveParameter(parameterContext: ParameterContext, extensionContext: ExtensionContext): Any =
        extensionContext.root.getStore(NAMESPACE)
            .getOrComputeIfAbsent(Running::class.java, { Running(Backend.start()) }, Running::class.java).backend

    /** Stored in the root store: JUnit closes it at the end of the run. */
    private class Running(val backend: Backend) : AutoCloseable {
        private val hook = Thread(backend::close, "pocdojo-backend-stop")

        init {
            Runtime.getRuntime().addShutdownHook(hook)
        }

        override fun close() {
            Runtime.getRuntime().removeShutdownHook(hook)
            backend.close()
        }
    }

    private companion object {
        val NAMESPACE: ExtensionContext.Namespace = ExtensionContext.Namespace.create(BackendExtension::class.java)
    }
}
