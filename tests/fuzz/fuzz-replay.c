/* fuzz-replay.c: runs the fuzz harness over files, without libFuzzer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: fuzz-rw-lock-replay PATH...
 *
 * Each PATH is an input file or a directory whose regular files (in name
 * order) are inputs. Every input goes through LLVMFuzzerTestOneInput(),
 * which aborts on a violation; so the seed corpus (and any reproducer saved
 * next to it) is a regression test of the normal test suite, built with any
 * compiler.
 */

#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "fuzz-rw-lock.h"

static guint n_inputs;

static void
run_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  if (!g_file_get_contents (path, &contents, &length, &error))
    {
      fprintf (stderr, "fuzz-replay: %s\n", error->message);
      exit (EXIT_FAILURE);
    }

  printf ("# %s (%" G_GSIZE_FORMAT " bytes)\n", path, length);
  fflush (stdout);
  LLVMFuzzerTestOneInput ((const uint8_t *) contents, length);
  n_inputs++;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

static void
run_path (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      run_file (path);
      return;
    }

  dir = g_dir_open (path, 0, &error);
  if (dir == NULL)
    {
      fprintf (stderr, "fuzz-replay: %s\n", error->message);
      exit (EXIT_FAILURE);
    }

  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = g_build_filename (path, name, NULL);

      if (g_file_test (file, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (names, g_steal_pointer (&file));
    }
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    run_file (g_ptr_array_index (names, i));
}

int
main (int    argc,
      char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "Usage: %s PATH...\n", argv[0]);
      return EXIT_FAILURE;
    }

  LLVMFuzzerInitialize (&argc, &argv);

  for (int i = 1; i < argc; i++)
    run_path (argv[i]);

  if (n_inputs == 0)
    {
      fprintf (stderr, "fuzz-replay: no input found\n");
      return EXIT_FAILURE;
    }

  printf ("fuzz-replay: %u inputs passed\n", n_inputs);
  return EXIT_SUCCESS;
}
