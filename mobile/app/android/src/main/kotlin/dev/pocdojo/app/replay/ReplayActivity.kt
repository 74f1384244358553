package dev.pocdojo.app.replay

import android.app.Activity
import android.content.Context
import android.content.Intent
import android.graphics.Color
import android.graphics.drawable.ColorDrawable
import android.net.Uri
import android.os.Bundle
import android.text.Spannable
import android.text.SpannableString
import android.text.style.BackgroundColorSpan
import android.text.style.ForegroundColorSpan
import android.view.View
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.ImageView
import android.widget.MediaController
import android.widget.ProgressBar
import android.widget.SeekBar
import android.widget.Spinner
import android.widget.TextView
import android.widget.Toast
import android.widget.VideoView
import dev.pocdojo.app.R
import dev.pocdojo.app.Retained
import dev.pocdojo.app.core.gateway.JobStage
import dev.pocdojo.app.core.gateway.JobStatus
import dev.pocdojo.app.core.gateway.MediaLanguage
import dev.pocdojo.app.core.gateway.TimelineMark
import dev.pocdojo.app.core.gateway.Video
import dev.pocdojo.app.core.replay.ReplayEvent
import dev.pocdojo.app.core.replay.ReplayState
import dev.pocdojo.app.core.replay.ReplayViewModel
import dev.pocdojo.app.dojos.CodeEditor
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
 * Binds the replay of an ended dojo to [ReplayViewModel]: a [SeekBar] through the session with its
 * rotations and chat marked above it, the file spinner, the code at that instant with each author's text
 * in their colour, the author of the text under the caret, play/pause, and the replay video (request,
 * progress, thumbnail over a [VideoView] streaming its signed URL).
 */
class ReplayActivity : Activity() {
    private lateinit var screen: Retained<ReplayViewModel>
    private lateinit var views: CoroutineScope
    private lateinit var code: CodeEditor
    private lateinit var scrubber: SeekBar
    private lateinit var files: Spinner
    private lateinit var fileNames: ArrayAdapter<String>
    private lateinit var video: VideoView
    private lateinit var thumbnail: ImageView

    /** What the code view shows: set again only when the text or its authors change. */
    private var shownCode: Pair<String, Any>? = null
    private var shownThumbnail: String? = null
    private var thumbnailLoad: Job? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_replay)
        val dojoId = checkNotNull(intent.getStringExtra(DOJO_ID)) { "no dojo to replay" }
        val replays = checkNotNull(graph.gateways.replays) { "no replay gateway bound" }
        val videos = checkNotNull(graph.gateways.videos) { "no video gateway bound" }
        screen = retained { scope -> ReplayViewModel(dojoId, replays, videos, graph.connectivity, scope, language()) }
        val viewModel = screen.viewModel
        code = findViewById(R.id.code)
        code.keyListener = null // read-only: the caret moves, the text does not change
        code.setTextIsSelectable(true)
        code.onSelection = { start, _ -> viewModel.onEvent(ReplayEvent.MoveCursor(start)) }
        scrubber = findViewById(R.id.scrubber)
        scrubber.setOnSeekBarChangeListener(
            object : SeekBar.OnSeekBarChangeListener {
                override fun onProgressChanged(bar: SeekBar, progress: Int, fromUser: Boolean) {
                    if (fromUser) viewModel.onEvent(ReplayEvent.Scrub(progress.toLong() * SCRUB_STEP_MS))
                }

                override fun onStartTrackingTouch(bar: SeekBar) = Unit

                override fun onStopTrackingTouch(bar: SeekBar) = Unit
            },
        )
        fileNames = ArrayAdapter<String>(this, android.R.layout.simple_spinner_item).apply {
            setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item)
        }
        files = findViewById(R.id.files)
        files.adapter = fileNames
        files.onItemSelectedListener =
            object : AdapterView.OnItemSelectedListener {
                override fun onItemSelected(parent: AdapterView<*>, view: View?, position: Int, id: Long) {
                    val path = fileNames.getItem(position) ?: return
                    if (path != viewModel.state.value.selectedFile) viewModel.onEvent(ReplayEvent.SelectFile(path))
                }

                override fun onNothingSelected(parent: AdapterView<*>) = Unit
            }
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
        findViewById<Button>(R.id.play).setOnClickListener { viewModel.onEvent(ReplayEvent.TogglePlay) }
        findViewById<Button>(R.id.retry).setOnClickListener { viewModel.onEvent(ReplayEvent.Retry) }
        findViewById<Button>(R.id.request_video).setOnClickListener { viewModel.onEvent(ReplayEvent.RequestVideo) }
        findViewById<Button>(R.id.play_video).setOnClickListener { viewModel.onEvent(ReplayEvent.PlayVideo) }
        views = CoroutineScope(SupervisorJob() + graph.main)
        views.launch { viewModel.state.collect(::render) }
    }

    private fun render(state: ReplayState) {
        if (state.signedOut) {
            views.cancel()
            toSignIn()
            return
        }
        findViewById<View>(R.id.offline_banner).visibility = if (state.offline) View.VISIBLE else View.GONE
        findViewById<View>(R.id.error_bar).visibility = if (state.error != null) View.VISIBLE else View.GONE
        findViewById<TextView>(R.id.error).show(state.error?.let(::text))
        findViewById<View>(R.id.retry).visibility = if (state.historyOff) View.GONE else View.VISIBLE
        findViewById<View>(R.id.loading).visibility = if (state.loading) View.VISIBLE else View.GONE
        val timeline = state.timeline
        findViewById<View>(R.id.replay).visibility = if (timeline != null) View.VISIBLE else View.INVISIBLE
        findViewById<View>(R.id.video_section).visibility = if (timeline != null) View.VISIBLE else View.GONE
        if (timeline == null) return
        findViewById<View>(R.id.running).visibility = if (timeline.ended) View.GONE else View.VISIBLE
        renderTimeline(state)
        renderCode(state)
        renderVideo(state)
        state.notice?.let {
            Toast.makeText(this, text(it), Toast.LENGTH_LONG).show()
            screen.viewModel.onEvent(ReplayEvent.NoticeShown)
        }
        state.play?.let {
            screen.viewModel.onEvent(ReplayEvent.PlayStarted)
            video.setVideoURI(Uri.parse(it))
            video.start()
        }
    }

    private fun renderTimeline(state: ReplayState) {
        val timeline = checkNotNull(state.timeline)
        scrubber.max = steps(timeline.durationMs)
        if (scrubber.progress != steps(state.positionMs)) scrubber.progress = steps(state.positionMs)
        val duration = timeline.durationMs.coerceAtLeast(1).toFloat()
        findViewById<TimelineMarks>(R.id.marks).show(
            timeline.marks.map { mark ->
                when (mark) {
                    is TimelineMark.Rotation ->
                        TimelineMarks.Tick(mark.tMs / duration, mark.driverId?.let(state::author)?.color?.opaque() ?: GREY, tall = true)
                    is TimelineMark.Chat -> TimelineMarks.Tick(mark.tMs / duration, GREY, tall = false)
                }
            },
        )
        findViewById<TextView>(R.id.position).text = getString(R.string.replay_position, clock(state.positionMs), clock(timeline.durationMs))
        findViewById<ProgressBar>(R.id.frame_loading).visibility = if (state.frameLoading) View.VISIBLE else View.INVISIBLE
        findViewById<Button>(R.id.play).setText(if (state.playing) R.string.action_pause else R.string.action_play)
        val driver = state.driver
        findViewById<TextView>(R.id.driver).apply {
            show(driver?.let { getString(R.string.replay_driver, it.driverName ?: getString(R.string.replay_someone)) })
            setTextColor(driver?.driverId?.let(state::author)?.color?.opaque() ?: Color.BLACK)
        }
        findViewById<TextView>(R.id.chat).show(
            state.lastChat?.let { getString(R.string.replay_chat, it.authorName ?: getString(R.string.replay_someone), it.text) },
        )
    }

    private fun renderCode(state: ReplayState) {
        val paths = state.files
        if ((0 until fileNames.count).map { fileNames.getItem(it) } != paths) {
            fileNames.clear()
            fileNames.addAll(paths)
        }
        val selected = paths.indexOf(state.selectedFile)
        if (selected >= 0 && files.selectedItemPosition != selected) files.setSelection(selected)
        findViewById<TextView>(R.id.frame_error).show(state.frameError?.let(::text))
        findViewById<TextView>(R.id.file_absent).show(state.fileAbsent?.let(::text))
        val shown = state.text to state.spans
        if (shown != shownCode) {
            shownCode = shown
            val spannable = SpannableString(state.text)
            for (span in state.spans) {
                val color = span.color ?: continue
                if (span.start >= span.end || span.end > spannable.length) continue
                spannable.setSpan(ForegroundColorSpan(darker(color)), span.start, span.end, Spannable.SPAN_EXCLUSIVE_EXCLUSIVE)
                spannable.setSpan(BackgroundColorSpan(light(color)), span.start, span.end, Spannable.SPAN_EXCLUSIVE_EXCLUSIVE)
            }
            code.setText(spannable)
        }
        val cursor = state.cursor.coerceIn(0, code.text.length)
        if (code.selectionStart != cursor) code.setSelection(cursor)
        val author = state.authorUnderCursor
        findViewById<TextView>(R.id.author).apply {
            text = when {
                author != null -> getString(R.string.replay_author, author.name)
                else -> state.cursorAuthorLine?.let(::text) ?: getString(R.string.replay_author_none)
            }
            val swatch = author?.color?.opaque()
            setCompoundDrawablesRelative(swatch?.let(::swatch), null, null, null) // the swatch's own bounds
        }
    }

    private fun renderVideo(state: ReplayState) {
        val current = state.video
        findViewById<Button>(R.id.request_video).apply {
            visibility = if (state.videoDone) View.GONE else View.VISIBLE
            isEnabled = state.canRequestVideo
        }
        findViewById<View>(R.id.video_requesting).visibility = if (state.videoRequesting) View.VISIBLE else View.GONE
        findViewById<View>(R.id.play_video).visibility = if (state.videoDone) View.VISIBLE else View.GONE
        findViewById<TextView>(R.id.video_status).show(current?.let(::describe) ?: getString(R.string.replay_video_none))
        findViewById<TextView>(R.id.video_problem).show(state.videoProblem?.let(::text))
        findViewById<ProgressBar>(R.id.video_progress).apply {
            visibility = if (current?.status?.active == true) View.VISIBLE else View.GONE
            progress = current?.progress ?: 0
        }
        findViewById<View>(R.id.player).visibility = if (state.videoDone) View.VISIBLE else View.GONE
        showThumbnail(state.thumbnailUrl)
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
                Toast.makeText(this@ReplayActivity, R.string.my_year_thumbnail_failed, Toast.LENGTH_LONG).show()
            }
        }
    }

    private fun describe(video: Video): String =
        when (video.status) {
            JobStatus.QUEUED -> getString(R.string.video_stage_queued)
            JobStatus.RUNNING -> getString(R.string.video_running, getString(stageText(video.stage)), video.progress)
            JobStatus.DONE -> {
                val seconds = (video.durationSeconds ?: 0.0).roundToInt()
                getString(R.string.replay_video_done, seconds / 60, seconds % 60)
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

    /** A small square of [color] before the author's name. */
    private fun swatch(color: Int): ColorDrawable {
        val size = (12 * resources.displayMetrics.density).roundToInt()
        return ColorDrawable(color).apply { setBounds(0, 0, size, size) }
    }

    private fun language(): MediaLanguage =
        if (resources.configuration.locales[0].language == "pt") MediaLanguage.PT_BR else MediaLanguage.EN

    override fun onRetainNonConfigurationInstance(): Any = screen

    override fun onDestroy() {
        views.cancel()
        video.stopPlayback()
        if (!isChangingConfigurations) screen.close() // stops loads, playback and the video's long-poll
        super.onDestroy()
    }

    companion object {
        private const val DOJO_ID = "dev.pocdojo.app.DOJO_ID"

        /** The scrubber moves in tenths of a second (a SeekBar counts in ints). */
        private const val SCRUB_STEP_MS = 100L
        private val GREY = Color.rgb(0x80, 0x80, 0x80)

        fun intent(context: Context, dojoId: String): Intent = Intent(context, ReplayActivity::class.java).putExtra(DOJO_ID, dojoId)

        private fun steps(ms: Long): Int = (ms / SCRUB_STEP_MS).toInt()

        /** `m:ss` (or `h:mm:ss`) of a time since the dojo started. */
        private fun clock(ms: Long): String {
            val seconds = ms / 1000
            val h = seconds / 3600
            val m = (seconds % 3600) / 60
            val s = seconds % 60
            return if (h > 0) "%d:%02d:%02d".format(h, m, s) else "%d:%02d".format(m, s)
        }

        private fun Int.opaque(): Int = this or 0xFF000000.toInt()

        /** The author's colour, darkened to be read as text on white. */
        private fun darker(rgb: Int): Int = Color.rgb((rgb shr 16 and 0xFF) * 3 / 5, (rgb shr 8 and 0xFF) * 3 / 5, (rgb and 0xFF) * 3 / 5)

        /** The author's colour, light, behind their text. */
        private fun light(rgb: Int): Int = Color.argb(0x33, rgb shr 16 and 0xFF, rgb shr 8 and 0xFF, rgb and 0xFF)
    }
}
