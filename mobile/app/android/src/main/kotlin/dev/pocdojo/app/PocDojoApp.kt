package dev.pocdojo.app

import android.app.Application
import android.content.Context
import android.net.ConnectivityManager
import android.os.Handler
import android.os.Looper
import dev.pocdojo.app.core.gateway.Connectivity
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.android.asCoroutineDispatcher

/** The process: what every screen shares (the gateways, connectivity, the main-thread dispatcher). */
open class PocDojoApp : Application() {
    lateinit var graph: AppGraph
        private set

    override fun onCreate() {
        super.onCreate()
        graph = createGraph()
    }

    /** What the screens talk to. The screenshot renderer (mobile/app/screens) gives them in-memory gateways. */
    protected open fun createGraph(): AppGraph =
        AppGraph(
            gateways = bindGateways(this),
            connectivity = AndroidConnectivity(getSystemService(ConnectivityManager::class.java)),
            main = mainDispatcher(),
        )

    /** The main thread: view-models run here, so state reaches the Views on the thread that draws them. */
    protected fun mainDispatcher(): CoroutineDispatcher = Handler(Looper.getMainLooper()).asCoroutineDispatcher("main")
}

/** What an Activity needs to build its view-model. */
class AppGraph(
    val gateways: Gateways,
    val connectivity: Connectivity,
    val main: CoroutineDispatcher,
    /** Pictures behind a URL (the video's thumbnail); the screenshot renderer draws its own. */
    val images: ImageLoader = HttpImageLoader(),
)
