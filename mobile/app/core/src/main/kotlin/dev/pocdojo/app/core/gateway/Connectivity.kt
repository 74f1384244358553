package dev.pocdojo.app.core.gateway

import kotlinx.coroutines.flow.StateFlow

/** Whether the device has a usable network now (on Android: ConnectivityManager's default network). */
interface Connectivity {
    val online: StateFlow<Boolean>
}
