package dev.pocdojo.app.myyear

import android.app.Activity
import android.app.AlertDialog
import android.content.Intent
import android.net.Uri
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.ImageView
import android.widget.MediaController
import android.widget.ProgressBar
import android.widget.TextView
import android.widget.Toast
import android.widget.VideoView
import dev.pocdojo.app.R
import dev.pocdojo.app.Retained
import dev.pocdojo.app.core.gateway.JobStage
import dev.pocdojo.app.core.gateway.JobStatus
import dev.pocdojo.app.core.gateway.MediaLanguage
import dev.pocdojo.app.core.gateway.Video
import dev.pocdojo.app.core.myyear.MyYearEvent
import dev.pocdojo.app.core.myyear.MyYearState
import dev.pocdojo.app.core.myyear.MyYearViewModel
import dev.pocdojo.app.graph
import dev.pocdojo.app.retained
import dev.pocdojo.app.show
import dev.pocdojo.app.text
import dev.pocdojo.app.toSignIn
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import java.io.IOException
import kotlin.math.roundToInt

/**
 * Binds the "My year" screen to [MyYearViewModel]: ask for a video of my last twelve months, its progress
 * while it is made, then its thumbnail, played in a [VideoView] with a [MediaController] (the MP4 streams
 * from its signed URL with HTTP Range requests), shared as a link (ACTION_SEND), deleted.
 */
class MyYearActivity : Activity() {
    private lateinit var screen: Retained<MyYearViewModel>
    private lateinit var views: CoroutineScope
    private lateinit var video: VideoView
    private lateinit var thumbnail: ImageView

    /** The thumbnail shown (its signed URL) and its load. */
    private var shownThumbnail: String? = null
    private var thumbnailLoad: Job? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_my_year)
        val gateway = checkNotNull(graph.gateways.videos) { "no video gateway bound" }
        screen = retained { scope -> MyYearViewModel(gateway, graph.connectivity, scope, language()) }
        val viewModel = screen.viewModel
        video = findViewById(R.id.video)
        thumbnail = findViewById(R.id.thumbnail)
        val controller = MediaController(this)
        controller.setAnchorView(video)
        video.setMediaController(controller)
        video.setOnPreparedListener { thumbnail.visibility = View.GONE }
        video.setOnCompletionListener { thumbnail.visibility = View.VISIBLE }
        video.setOnErrorListener { _, _, _ ->
            thumbnail.visibility = View.VISIBLE
            Toast.makeText(this, R.string.my_year_play_failed, Toast.LENGTH_LONG).show()
            true
        }
        findViewById<Button>(R.id.request).setOnClickListener { viewModel.onEvent(MyYearEvent.Request) }
        findViewById<Button>(R.id.retry).setOnClickListener { viewModel.onEvent(MyYearEvent.Retry) }
        findViewById<Button>(R.id.play).setOnClickListener { viewModel.onEvent(MyYearEvent.Play) }
        findViewById<Button>(R.id.share).setOnClickListener { viewModel.onEvent(MyYearEvent.Share) }
        findViewById<Button>(R.id.delete).setOnClickListener { confirmDelete(viewModel.state.value.video?.status?.active == true) }
        views = CoroutineScope(SupervisorJob() + graph.main)
        views.launch { viewModel.state.collect(::render) }
    }

    private fun render(state: MyYearState) {
        if (state.signedOut) {
            views.cancel()
            toSignIn()
            return
        }
        val current = state.video
        findViewById<View>(R.id.offline_banner).visibility = if (state.offline) View.VISIBLE else View.GONE
        findViewById<Button>(R.id.request).isEnabled = state.canRequest
        findViewById<View>(R.id.requesting).visibility = if (state.requesting) View.VISIBLE else View.GONE
        findViewById<View>(R.id.error_bar).visibility = if (state.error != null) View.VISIBLE else View.GONE
        findViewById<TextView>(R.id.error).show(state.error?.let(::text))
        findViewById<View>(R.id.loading).visibility = if (state.loading) View.VISIBLE else View.GONE
        val none = current == null && !state.loading && state.error == null
        findViewById<View>(R.id.none).visibility = if (none) View.VISIBLE else View.GONE
        findViewById<TextView>(R.id.status).show(current?.let(::describe))
        findViewById<TextView>(R.id.problem).show(state.problem?.let(::text))
        findViewById<ProgressBar>(R.id.progress).apply {
            visibility = if (current?.status?.active == true) View.VISIBLE else View.GONE
            progress = current?.progress ?: 0
        }
        findViewById<View>(R.id.player).visibility = if (state.done) View.VISIBLE else View.GONE
        findViewById<View>(R.id.actions).visibility = if (current != null) View.VISIBLE else View.GONE
        findViewById<View>(R.id.play).visibility = if (state.done) View.VISIBLE else View.GONE
        findViewById<View>(R.id.share).visibility = if (state.done) View.VISIBLE else View.GONE
        findViewById<View>(R.id.share_note).visibility = if (state.done) View.VISIBLE else View.GONE
        findViewById<View>(R.id.delete).isEnabled = !state.deleting
        (findViewById<Button>(R.id.delete)).setText(if (current?.status?.active == true) R.string.action_cancel_video else R.string.action_delete)
        showThumbnail(state.thumbnailUrl)
        state.notice?.let {
            Toast.makeText(this, text(it), Toast.LENGTH_LONG).show()
            screen.viewModel.onEvent(MyYearEvent.NoticeShown)
        }
        state.play?.let {
            screen.viewModel.onEvent(MyYearEvent.PlayStarted)
            play(it)
        }
        state.share?.let {
            screen.viewModel.onEvent(MyYearEvent.ShareStarted)
            share(it)
        }
    }

    private fun showThumbnail(url: String?) {
        if (url == shownThumbnail) return
        shownThumbnail = url
        thumbnailLoad?.cancel()
        thumbnail.setImageDrawable(null)
        if (url == null) return
        thumbnailLoad = views.launch {
            try {
                thumbnail.setImageBitmap(graph.images.load(url))
            } catch (failure: IOException) {
                // the video still plays; the frame stays black
                Toast.makeText(this@MyYearActivity, R.string.my_year_thumbnail_failed, Toast.LENGTH_LONG).show()
            }
        }
    }

    /** Streams the MP4 from its signed URL: the platform's player asks for it by HTTP Range as it plays and seeks. */
    private fun play(url: String) {
        video.setVideoURI(Uri.parse(url))
        video.start()
    }

    private fun share(url: String) {
        val send = Intent(Intent.ACTION_SEND)
            .setType("text/plain")
            .putExtra(Intent.EXTRA_SUBJECT, getString(R.string.my_year_share_subject))
            .putExtra(Intent.EXTRA_TEXT, url)
        startActivity(Intent.createChooser(send, getString(R.string.action_share)))
    }

    private fun describe(video: Video): String =
        when (video.status) {
            JobStatus.QUEUED -> getString(R.string.video_stage_queued)
            JobStatus.RUNNING -> getString(R.string.video_running, getString(stageText(video.stage)), video.progress)
            JobStatus.DONE -> {
                val seconds = (video.durationSeconds ?: 0.0).roundToInt()
                val pocs = video.pocCount ?: 0
                getString(R.string.video_done, seconds / 60, seconds % 60, resources.getQuantityString(R.plurals.video_pocs, pocs, pocs))
            }
            JobStatus.FAILED -> getString(R.string.video_failed)
            JobStatus.CANCELLED -> getString(R.string.video_cancelled)
        }

    private fun stageText(stage: JobStage): Int =
        when (stage) {
            JobStage.QUEUED -> R.string.video_stage_queued
            JobStage.READING -> R.string.video_stage_reading
            JobStage.RENDERING -> R.string.video_stage_rendering
            JobStage.UPLOADING -> R.string.video_stage_uploading
            JobStage.DONE -> R.string.video_stage_done
        }

    private fun confirmDelete(active: Boolean) {
        AlertDialog.Builder(this)
            .setMessage(if (active) R.string.video_confirm_cancel else R.string.video_confirm_delete)
            .setPositiveButton(if (active) R.string.action_cancel_video else R.string.action_delete) { _, _ ->
                screen.viewModel.onEvent(MyYearEvent.Delete)
            }
            .setNegativeButton(R.string.action_keep, null)
            .show()
    }

    /** The app's language, which the video's cards and captions follow. */
    private fun language(): MediaLanguage =
        if (resources.configuration.locales[0].language == "pt") MediaLanguage.PT_BR else MediaLanguage.EN

    override fun onRetainNonConfigurationInstance(): Any = screen

    override fun onDestroy() {
        views.cancel()
        video.stopPlayback()
        if (!isChangingConfigurations) screen.close() // stops the long-poll
        super.onDestroy()
    }
}
