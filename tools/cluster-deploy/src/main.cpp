#include "cli.hpp"

int main(int argc, char** argv)
{
  return deploy::run(argc, argv);
}
