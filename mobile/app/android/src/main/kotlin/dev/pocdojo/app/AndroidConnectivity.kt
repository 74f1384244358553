package dev.pocdojo.app

import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import dev.pocdojo.app.core.gateway.Connectivity
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/** [Connectivity] from the system's default network, followed for the life of the process. */
class AndroidConnectivity(manager: ConnectivityManager) : Connectivity {
    private val state = MutableStateFlow(manager.activeNetwork?.let { manager.isUsable(it) } ?: false)
    override val online: StateFlow<Boolean> = state.asStateFlow()

    init {
        manager.registerDefaultNetworkCallback(
            object : ConnectivityManager.NetworkCallback() {
                override fun onAvailable(network: Network) {
                    state.value = true
                }

                override fun onCapabilitiesChanged(network: Network, capabilities: NetworkCapabilities) {
                    state.value = capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET)
                }

                override fun onLost(network: Network) {
                    state.value = false
                }
            },
        )
    }

    private fun ConnectivityManager.isUsable(network: Network): Boolean =
        getNetworkCapabilities(network)?.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET) == true
}
