/* test-rw-lock-sysprof.c: every hold and wait is a Sysprof mark while a capture is active
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A child process writes its capture where SYSPROF_TRACE_FD says (what
 * Sysprof gives the programs it profiles); the test reads the marks back
 * with Sysprof's capture reader.
 */

#include <fcntl.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sysprof-capture.h>

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE

typedef struct
{
  char   *name;
  char   *message;
  gint64  time_nsec;
  gint64  duration_nsec;
} Mark;

static void
mark_free (gpointer data)
{
  Mark *mark = data;

  g_free (mark->name);
  g_free (mark->message);
  g_free (mark);
}

/* The marks of group "AioRwLock" in the capture at PATH. */
static GPtrArray *
read_marks (const char *path)
{
  GPtrArray *marks = g_ptr_array_new_with_free_func (mark_free);
  SysprofCaptureReader *reader = sysprof_capture_reader_new (path);
  SysprofCaptureFrameType type;

  g_assert_nonnull (reader);
  while (sysprof_capture_reader_peek_type (reader, &type))
    {
      const SysprofCaptureMark *frame;
      Mark *mark;

      if (type != SYSPROF_CAPTURE_FRAME_MARK)
        {
          g_assert_true (sysprof_capture_reader_skip (reader));
          continue;
        }
      frame = sysprof_capture_reader_read_mark (reader);
      g_assert_nonnull (frame);
      if (!g_str_equal (frame->group, "AioRwLock"))
        continue;
      mark = g_new0 (Mark, 1);
      mark->name = g_strdup (frame->name);
      mark->message = g_strdup (frame->message);
      mark->time_nsec = frame->frame.time;
      mark->duration_nsec = frame->duration;
      g_ptr_array_add (marks, mark);
    }
  sysprof_capture_reader_unref (reader);
  return marks;
}

static const Mark *
find_mark (GPtrArray  *marks,
           const char *name,
           const char *message)
{
  const Mark *found = NULL;

  for (guint i = 0; i < marks->len; i++)
    {
      const Mark *mark = g_ptr_array_index (marks, i);

      if (g_str_equal (mark->name, name) && g_str_equal (mark->message, message))
        {
          g_assert_null (found);  /* one mark per hold or wait */
          found = mark;
        }
    }
  return found;
}

/* In the child: a labelled WRITE hold of 50 ms with a READ queued behind
 * it (async), which then holds for 20 ms. */
static void
hold_and_wait (void)
{
  const char *path = g_getenv ("AIO_TEST_CAPTURE");
  g_autoptr(AioRwLock) lock = NULL;
  g_autoptr(AioRwLock) unnamed = NULL;
  g_autofree char *fd_text = NULL;
  AioRwLockGuard *writer;
  Request reader = { "reader" };
  int fd;

  g_assert_nonnull (path);
  fd = g_open (path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  g_assert_cmpint (fd, >=, 0);
  fd_text = g_strdup_printf ("%d", fd);
  /* Before the first lock: the process reads it once. */
  g_setenv ("SYSPROF_TRACE_FD", fd_text, TRUE);

  lock = g_object_new (AIO_TYPE_RW_LOCK, "name", "marked", NULL);
  writer = aio_rw_lock_try_acquire (lock, WRITE, NULL);
  aio_rw_lock_guard_set_label (writer, "rebuild");
  aio_test_acquire (lock, READ, -1, NULL, &reader);
  g_usleep (50 * 1000);
  aio_rw_lock_guard_release (writer);
  aio_rw_lock_guard_unref (writer);
  aio_test_wait (&reader);
  aio_test_assert_granted (&reader);
  g_usleep (20 * 1000);
  aio_test_release (&reader);
  aio_test_request_clear (&reader);

  unnamed = aio_rw_lock_new ();
  aio_rw_lock_guard_unref (aio_rw_lock_try_acquire_read (unnamed));
  /* The capture is flushed at exit. */
}

static void
test_marks_read_back (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GPtrArray) marks = NULL;
  const Mark *hold, *wait, *read_hold, *unnamed;

  if (g_test_subprocess ())
    {
      hold_and_wait ();
      return;
    }

  dir = g_dir_make_tmp ("aio-sysprof-XXXXXX", NULL);
  g_assert_nonnull (dir);
  path = g_build_filename (dir, "capture.syscap", NULL);
  g_setenv ("AIO_TEST_CAPTURE", path, TRUE);
  g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, 0);
  g_unsetenv ("AIO_TEST_CAPTURE");
  g_test_trap_assert_passed ();

  marks = read_marks (path);
  hold = find_mark (marks, "marked", "WRITE hold: rebuild");
  wait = find_mark (marks, "marked", "READ wait");
  read_hold = find_mark (marks, "marked", "READ hold");
  unnamed = find_mark (marks, "AioRwLock", "READ hold");
  g_assert_nonnull (hold);
  g_assert_nonnull (wait);
  g_assert_nonnull (read_hold);
  g_assert_nonnull (unnamed);
  g_assert_cmpuint (marks->len, ==, 4);

  g_assert_cmpint (hold->duration_nsec, >=, 50 * 1000 * 1000);
  g_assert_cmpint (wait->duration_nsec, >=, 45 * 1000 * 1000);
  g_assert_cmpint (read_hold->duration_nsec, >=, 20 * 1000 * 1000);
  /* The wait ended where the hold that followed began. */
  g_assert_cmpint (wait->time_nsec + wait->duration_nsec, <=, read_hold->time_nsec);
  g_assert_cmpint (read_hold->time_nsec, >=, hold->time_nsec + hold->duration_nsec);

  g_unlink (path);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLock/sysprof/marks-read-back", test_marks_read_back);

  return g_test_run ();
}
