package dev.pocdojo.app

import android.app.Application
import android.content.Context
import android.net.ConnectivityManager
import android.os.Handler
import android.os.Looper
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.android.asCoroutineDispatcher

/** The process: what every screen shares (the gateways, connectivity, the main-thread dispatcher). */
class PocDojoApp : Application() {
    lateinit var graph: AppGraph
        private set

    override fun onCreate() {
        super.onCreate()
        val connectivity = AndroidConnectivity(getSystemService(ConnectivityManager::class.java))
        graph = AppGraph.create(this, connectivity, Handler(Looper.getMainLooper()).asCoroutineDispatcher("main"))
    }
}

/** What an Activity needs to build its view-model. */
class AppGraph private constructor(
    val gateways: Gateways,
    val connectivity: AndroidConnectivity,
    /** The main thread: view-models run here, so state reaches the Views on the thread that draws them. */
    val main: CoroutineDispatcher,
) {
    companion object {
        fun create(context: Context, connectivity: AndroidConnectivity, main: CoroutineDispatcher): AppGraph =
            AppGraph(bindGateways(context), connectivity, main)
    }
}
