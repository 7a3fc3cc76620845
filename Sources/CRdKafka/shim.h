#ifndef INTERLUDE_CRDKAFKA_SHIM_H
#define INTERLUDE_CRDKAFKA_SHIM_H
// rdkafka_mock.h refuses to be included before rdkafka.h, so this umbrella fixes the order.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
